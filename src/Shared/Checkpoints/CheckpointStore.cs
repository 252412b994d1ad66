using System.Globalization;
using System.Text.RegularExpressions;

namespace VaeCluster.Checkpoints;

/// <summary>
/// The checkpoints of one run (<c>RUN_DIR/checkpoints/</c>): <c>step-&lt;global step, 8+ digits&gt;.ckpt</c>,
/// the newest <see cref="Keep"/> retained so that a damaged newest file still leaves something to resume from.
/// </summary>
public sealed partial class CheckpointStore
{
    public string Directory { get; }
    public int Keep { get; }

    public CheckpointStore(string directory, int keep = 3)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        Directory = Path.GetFullPath(directory);
        Keep = keep;
    }

    public string PathFor(long globalStep) =>
        Path.Combine(Directory, $"step-{globalStep.ToString("D8", CultureInfo.InvariantCulture)}.ckpt");

    /// <summary>Writes the checkpoint atomically, then prunes old checkpoints and abandoned temporaries.</summary>
    /// <returns>The path written.</returns>
    public string Save(Checkpoint checkpoint)
    {
        System.IO.Directory.CreateDirectory(Directory);
        var path = PathFor(checkpoint.Cursor.GlobalStep);
        CheckpointFormat.Save(path, checkpoint);

        // Pruning only starts once the new file is complete, so at every instant at least one good
        // checkpoint exists. A file numbered above the one just written is not this run's history any more: the
        // run went on from an earlier step (it skipped that file as damaged or foreign on resume), so it goes
        // first, or a stray such as step-99999999.ckpt would hold one of the kept places for ever.
        var all = List();
        foreach (var old in all.Where(p => StepOf(p) > checkpoint.Cursor.GlobalStep)
                     .Concat(all.Where(p => StepOf(p) <= checkpoint.Cursor.GlobalStep).Skip(Keep)))
            File.Delete(old);
        DeleteAbandonedTemporaries(olderThan: File.GetLastWriteTimeUtc(path));
        return path;
    }

    /// <summary>Checkpoint paths, newest (highest global step) first. Temporaries and other files are ignored.</summary>
    public IReadOnlyList<string> List()
    {
        if (!System.IO.Directory.Exists(Directory)) return [];
        return System.IO.Directory.EnumerateFiles(Directory, "step-*.ckpt")
            .Select(p => (Path: p, Step: StepOf(p)))
            .Where(x => x.Step is not null)
            .OrderByDescending(x => x.Step)
            .Select(x => x.Path)
            .ToList();
    }

    /// <summary>
    /// Loads the newest checkpoint that passes every check, reporting each one skipped on the way.
    /// Returns null when there is none to resume from.
    /// </summary>
    public Checkpoint? LoadNewestGood(Action<string> onSkipped)
    {
        foreach (var path in List())
        {
            Checkpoint checkpoint;
            try
            {
                checkpoint = CheckpointFormat.Load(path);
            }
            catch (CheckpointError e)
            {
                onSkipped(e.Message);
                continue;
            }
            if (checkpoint.Cursor.GlobalStep == StepOf(path)) return checkpoint;
            // A file renamed or copied in from elsewhere: resuming it would continue some other point of some run.
            onSkipped($"{path}: holds step {checkpoint.Cursor.GlobalStep}, not the step its name says; not this run's checkpoint");
            checkpoint.DisposeTensors();
        }
        return null;
    }

    private static long? StepOf(string path)
    {
        var match = CheckpointName().Match(Path.GetFileName(path));
        return match.Success && long.TryParse(match.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var step)
            ? step
            : null;
    }

    /// <summary>
    /// A temporary older than the newest checkpoint is left over from a crashed write (writes are synchronous
    /// and we just finished one); newer ones could belong to another writer, so they stay.
    /// </summary>
    private void DeleteAbandonedTemporaries(DateTime olderThan)
    {
        foreach (var tmp in System.IO.Directory.EnumerateFiles(Directory, "*.tmp-*"))
        {
            if (File.GetLastWriteTimeUtc(tmp) < olderThan)
            {
                try { File.Delete(tmp); }
                catch (IOException) { /* vanished or busy: harmless, the next save retries */ }
            }
        }
    }

    [GeneratedRegex(@"^step-(\d+)\.ckpt$")]
    private static partial Regex CheckpointName();
}
