using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace BareLoop;

/// <summary>
/// The compute limit of this machine for the VAE: one large square matrix product in fp32 and in bf16 (what the
/// cores can do at best), divided by the model's FLOPs per trained sample.
/// </summary>
public static class ComputeLimit
{
    /// <summary>Multiply-adds of one sample's forward pass: fc1 784x400, fc21 and fc22 400x20, fc3 20x400, fc4 400x784.</summary>
    public const double ForwardMacs = 784 * 400 + 2 * 400 * 20 + 20 * 400 + 400 * 784;

    /// <summary>Forward plus backward taken as 3x forward (gradient of inputs and of weights), 2 FLOPs per multiply-add.</summary>
    public const double FlopsPerSample = 3 * 2 * ForwardMacs;

    public static void Run(Options o)
    {
        torch.set_num_threads(o.Threads);
        long n = o.Size;
        using var a = rand(n, n);
        using var b = rand(n, n);
        using var a16 = a.to_type(ScalarType.BFloat16);
        using var b16 = b.to_type(ScalarType.BFloat16);
        var fp32 = new List<double>();
        var bf16 = new List<double>();
        for (int rep = 0; rep < 7; rep++)
        {
            // Interleaved, so a machine that gets busier part-way harms both alike.
            fp32.Add(GflopsOf(a, b, n));
            bf16.Add(GflopsOf(a16, b16, n));
        }
        double f = Median(fp32.Skip(1)), h = Median(bf16.Skip(1));
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["matmul_size"] = n, ["threads"] = torch.get_num_threads(),
            ["fp32_gflops"] = Math.Round(f, 1), ["bf16_gflops"] = Math.Round(h, 1),
            ["fp32_gflops_runs"] = fp32.Select(x => Math.Round(x, 1)), ["bf16_gflops_runs"] = bf16.Select(x => Math.Round(x, 1)),
            ["mflop_per_sample"] = Math.Round(FlopsPerSample / 1e6, 3),
            ["fp32_limit_samples_per_s"] = Math.Round(f * 1e9 / FlopsPerSample),
            ["bf16_limit_samples_per_s"] = Math.Round(h * 1e9 / FlopsPerSample),
        }));
    }

    private static double GflopsOf(Tensor a, Tensor b, long n)
    {
        var clock = Stopwatch.StartNew();
        using (var c = mm(a, b)) { }
        return 2.0 * n * n * n / clock.Elapsed.TotalSeconds / 1e9;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
