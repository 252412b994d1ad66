namespace VaeCluster.Model;

/// <summary>
/// Whether this CPU multiplies bfloat16 natively. Without it libtorch still computes bf16 products, but slower than
/// fp32 (measured with oneDNN held to AVX-512 without BF16: 2.4x slower; to AVX2: 140x; docs/BENCHMARKS.md), so
/// --precision bf16 is refused there rather than quietly slow.
/// </summary>
public static class NativeBf16
{
    /// <summary>The /proc/cpuinfo flags of x86 CPUs with bf16 dot products (AVX-512 BF16; AMX on newer Intel parts).</summary>
    public static readonly IReadOnlyList<string> CpuFlags = ["avx512_bf16", "amx_bf16"];

    /// <summary>Null where <paramref name="precision"/> can run here, otherwise the one-line reason it cannot.</summary>
    /// <param name="cpuInfo">The text of /proc/cpuinfo (tests pass their own).</param>
    public static string? Refusal(Precision precision, Func<string> cpuInfo)
    {
        if (precision != Precision.Bf16) return null;
        var flags = cpuInfo().Split('\n')
            .Where(line => line.StartsWith("flags", StringComparison.Ordinal))
            .SelectMany(line => line[(line.IndexOf(':') + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet();
        return CpuFlags.Any(flags.Contains) ? null
            : $"--precision bf16 needs a CPU with native bfloat16 ({string.Join(" or ", CpuFlags)} in /proc/cpuinfo), which this one lacks; use --precision fp32";
    }

    /// <summary>This machine's /proc/cpuinfo, or nothing where there is none (then bf16 is refused).</summary>
    public static string ThisMachine() => File.Exists("/proc/cpuinfo") ? File.ReadAllText("/proc/cpuinfo") : "";
}
