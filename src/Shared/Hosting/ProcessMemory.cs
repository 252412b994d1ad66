namespace VaeCluster.Hosting;

/// <summary>This process's peak resident memory, for the last log line of every node (benchmarks read it).</summary>
public static class ProcessMemory
{
    public static double PeakMegabytes()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return Math.Round(self.PeakWorkingSet64 / 1e6, 1);
    }
}
