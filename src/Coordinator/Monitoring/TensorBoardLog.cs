using Akka.Actor;
using Akka.Event;
using VaeCluster.Hosting;
using static TorchSharp.torch.utils.tensorboard;
using SummaryWriter = TorchSharp.Modules.SummaryWriter;

namespace VaeCluster.Coordinator.Monitoring;

/// <summary>
/// Writes TensorBoard event files (RUN_DIR/tensorboard/events.out.tfevents.*) with TorchSharp's own SummaryWriter.
/// The writer opens, appends and flushes the file for every event, and re-encodes pictures, so it runs on a thread
/// of its own: never on the watcher's or the coordinator's.
/// </summary>
public sealed class TensorBoardLog : ReceiveActor
{
    private readonly string directory;
    private readonly ILoggingAdapter log = Context.GetLogger();
    private SummaryWriter? writer;
    private bool failed;

    public TensorBoardLog(string directory)
    {
        this.directory = directory;
        Receive<TensorBoardScalars>(s => Write(w =>
        {
            foreach (var v in s.Values) w.add_scalar(v.Tag, (float)v.Value, StepOf(s.Step));
        }));
        Receive<TensorBoardPictures>(p => Write(w =>
        {
            foreach (var f in p.Files.Where(f => File.Exists(f.Path))) w.add_img(f.Tag, f.Path, StepOf(p.Step));
        }));
    }

    public static Props Props(string directory) =>
        Akka.Actor.Props.Create(() => new TensorBoardLog(directory)).WithDispatcher(AkkaHost.PinnedDispatcher);

    private void Write(Action<SummaryWriter> record)
    {
        try
        {
            // Opened at the first record, so a run that never trains leaves no empty event file.
            writer ??= SummaryWriter(directory);
            record(writer);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The dashboard and the run go on without TensorBoard; one warning says why it is missing.
            if (!failed) log.Warning("TensorBoard log in {0} not written: {1}", directory, e.Message);
            failed = true;
        }
    }

    /// <summary>TensorBoard's steps are 32-bit here; a run of more steps than that keeps the last one.</summary>
    private static int StepOf(long step) => (int)Math.Min(step, int.MaxValue);
}
