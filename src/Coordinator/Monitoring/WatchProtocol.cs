namespace VaeCluster.Coordinator.Monitoring;

/// <summary>Messages from the watcher actor to the TensorBoard log (besides which, the watcher takes
/// <see cref="RunEvent"/>s from the log tap and StepApplied/TrainingFinished from the event stream).</summary>
public interface IWatchMessage;

/// <summary>Scalars to record at a global step, under TensorBoard tags ("train/loss").</summary>
public sealed record TensorBoardScalars(long Step, IReadOnlyList<TaggedValue> Values) : IWatchMessage;

public sealed record TaggedValue(string Tag, double Value);

/// <summary>PNG files to record at a global step, each under its tag.</summary>
public sealed record TensorBoardPictures(long Step, IReadOnlyList<TaggedFile> Files) : IWatchMessage;

public sealed record TaggedFile(string Tag, string Path);
