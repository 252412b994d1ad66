using VaeCluster.Hosting;
using Xunit;

namespace VaeCluster.Tests.Worker;

/// <summary>A worker node's compute threads run below its data plane: the priority is the calling thread's alone.</summary>
public sealed class ComputePriorityTests
{
    [Fact]
    public void Should_lower_the_calling_thread_only()
    {
        if (!OperatingSystem.IsLinux()) return; // elsewhere the threads keep the default priority by design
        int? before = ComputePriority.OfThisThread();
        int? lowered = null, after = null;
        bool done = false;
        var thread = new Thread(() =>
        {
            done = ComputePriority.LowerForThisThread();
            lowered = ComputePriority.OfThisThread();
        });
        thread.Start();
        thread.Join();
        after = ComputePriority.OfThisThread();

        Assert.True(done);
        Assert.Equal(ComputePriority.Nice, lowered);
        Assert.Equal(before, after); // the test's own thread, and so the process, is untouched
        Assert.NotEqual(ComputePriority.Nice, before);
    }

    /// <summary>The nice values of this process's threads, read where the kernel keeps them (field 19 of stat).</summary>
    public static IReadOnlyList<int> NiceOfEveryThread() =>
        Directory.EnumerateDirectories("/proc/self/task")
            .Select(task => { try { return File.ReadAllText(Path.Combine(task, "stat")); } catch (IOException) { return ""; } })
            .Where(stat => stat.Length > 0) // a thread that ended meanwhile
            .Select(stat => int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16]))
            .ToList();
}
