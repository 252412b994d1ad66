using System.Diagnostics;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace BareLoop;

/// <summary>
/// Does bf16 pay for this model on this CPU? Times the model's own matrix products (forward, gradient of the
/// input, gradient of the weights) in fp32, in bf16 with operands already bf16 (the kernel alone), and in bf16
/// with the casts autocast adds (fp32 in, fp32 out); then the whole forward+backward step both ways, bf16 as
/// autocast does it (matmuls in bf16, fp32 weights, activations and loss). All variants interleaved, medians.
/// Two set-ups: the global batch of 128 on 2 threads (one process) and a shard of 64 on 1 thread (what each
/// of `./vae train`'s two worker actors computes).
/// </summary>
public static class PrecisionProbe
{
    private static readonly (string Name, int In, int Out)[] Layers =
        [("fc1", 784, 400), ("fc21", 400, 20), ("fc22", 400, 20), ("fc3", 20, 400), ("fc4", 400, 784)];

    public static void Run(Options o)
    {
        torch.manual_seed(1);
        var setups = new List<object>();
        foreach (var (batch, threads) in new[] { (128, 2), (64, 1) })
        {
            torch.set_num_threads(threads);
            setups.Add(new Dictionary<string, object>
            {
                ["batch"] = batch, ["threads"] = threads,
                ["matmuls"] = Layers.SelectMany(l => Products(l, batch)).Select(p => Matmul(p.Name, p.M, p.K, p.N, o.Reps)).ToList(),
                ["step"] = Step(batch, o.Reps),
            });
        }
        Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["torch_threads_note"] = "times in microseconds, medians of interleaved repetitions",
            ["reps"] = o.Reps, ["setups"] = setups,
        }, new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>y = x W^T: forward [B,in]x[in,out]; gradient of x [B,out]x[out,in]; gradient of W [out,B]x[B,in].</summary>
    private static IEnumerable<(string Name, long M, long K, long N)> Products((string Name, int In, int Out) l, int b) =>
    [
        ($"{l.Name} forward", b, l.In, l.Out),
        ($"{l.Name} grad input", b, l.Out, l.In),
        ($"{l.Name} grad weight", l.Out, b, l.In),
    ];

    private static Dictionary<string, object> Matmul(string name, long m, long k, long n, int reps)
    {
        using var scope = NewDisposeScope();
        var a = rand(m, k);
        var b = rand(k, n);
        var a16 = a.to_type(ScalarType.BFloat16);
        var b16 = b.to_type(ScalarType.BFloat16);
        double flops = 2.0 * m * k * n;
        int inner = (int)Math.Max(1, Math.Ceiling(2e7 / flops));
        var variants = new (string Name, Action Call)[]
        {
            ("fp32", () => mm(a, b).Dispose()),
            ("bf16_kernel", () => mm(a16, b16).Dispose()),
            ("bf16_with_casts", () =>
            {
                using var x = a.to_type(ScalarType.BFloat16);
                using var y = b.to_type(ScalarType.BFloat16);
                using var c = mm(x, y);
                c.to_type(ScalarType.Float32).Dispose();
            }),
        };
        var us = Interleaved(variants, reps, inner);
        return new Dictionary<string, object>
        {
            ["product"] = name, ["shape"] = $"[{m}x{k}]x[{k}x{n}]",
            ["fp32_us"] = Math.Round(us["fp32"], 2), ["bf16_kernel_us"] = Math.Round(us["bf16_kernel"], 2),
            ["bf16_with_casts_us"] = Math.Round(us["bf16_with_casts"], 2),
            ["fp32_gflops"] = Math.Round(flops / us["fp32"] / 1e3, 1),
            ["bf16_kernel_gflops"] = Math.Round(flops / us["bf16_kernel"] / 1e3, 1),
            ["speedup_kernel"] = Math.Round(us["fp32"] / us["bf16_kernel"], 2),
            ["speedup_with_casts"] = Math.Round(us["fp32"] / us["bf16_with_casts"], 2),
            ["speedup_kernel_cpu"] = Math.Round(us["fp32_cpu"] / us["bf16_kernel_cpu"], 2),
            ["speedup_with_casts_cpu"] = Math.Round(us["fp32_cpu"] / us["bf16_with_casts_cpu"], 2),
        };
    }

    /// <summary>Forward, summed BCE+KL, backward; bf16 casts only around the matrix products (autocast's rule).</summary>
    private static Dictionary<string, object> Step(int batch, int reps)
    {
        using var scope = NewDisposeScope();
        var weights = Layers.Select(l => (W: (rand(l.Out, l.In) - 0.5) * 0.1, B: zeros(l.Out))).ToArray();
        foreach (var (w, b) in weights) { w.requires_grad_(); b.requires_grad_(); }
        var x = rand(batch, 784);
        var eps = randn(batch, 20);
        var losses = new Dictionary<string, float>();
        // bf16 in the layers named: all five (autocast), or only the two wide ones that carry 96% of the FLOPs.
        Action StepWith(string variant, int[] bf16Layers) => () =>
        {
            using var s = NewDisposeScope();
            Tensor Linear(int i, Tensor input) => bf16Layers.Contains(i)
                ? F.linear(input.to_type(ScalarType.BFloat16), weights[i].W.to_type(ScalarType.BFloat16),
                    weights[i].B.to_type(ScalarType.BFloat16)).to_type(ScalarType.Float32)
                : F.linear(input, weights[i].W, weights[i].B);
            var h = F.relu(Linear(0, x));
            var (mu, logVar) = (Linear(1, h), Linear(2, h));
            var z = mu + eps * (0.5 * logVar).exp();
            var r = F.sigmoid(Linear(4, F.relu(Linear(3, z))));
            var loss = F.binary_cross_entropy(r, x, reduction: nn.Reduction.Sum) - 0.5 * (1 + logVar - mu.pow(2) - logVar.exp()).sum();
            loss.backward();
            losses[variant] = loss.item<float>();
            foreach (var (w, b) in weights) { w.grad?.Dispose(); b.grad?.Dispose(); w.grad = null; b.grad = null; }
        };
        var us = Interleaved([("fp32", StepWith("fp32", [])), ("bf16", StepWith("bf16", [0, 1, 2, 3, 4])),
            ("bf16_fc1_fc4", StepWith("bf16_fc1_fc4", [0, 4]))], reps, 1);
        return new Dictionary<string, object>
        {
            ["fp32_us"] = Math.Round(us["fp32"], 1), ["bf16_autocast_us"] = Math.Round(us["bf16"], 1),
            ["bf16_fc1_fc4_us"] = Math.Round(us["bf16_fc1_fc4"], 1),
            ["speedup"] = Math.Round(us["fp32"] / us["bf16"], 2), ["speedup_fc1_fc4"] = Math.Round(us["fp32"] / us["bf16_fc1_fc4"], 2),
            ["fp32_cpu_us"] = Math.Round(us["fp32_cpu"], 1), ["bf16_autocast_cpu_us"] = Math.Round(us["bf16_cpu"], 1),
            ["bf16_fc1_fc4_cpu_us"] = Math.Round(us["bf16_fc1_fc4_cpu"], 1),
            ["speedup_cpu"] = Math.Round(us["fp32_cpu"] / us["bf16_cpu"], 2),
            ["speedup_fc1_fc4_cpu"] = Math.Round(us["fp32_cpu"] / us["bf16_fc1_fc4_cpu"], 2),
            ["fp32_samples_per_s"] = Math.Round(batch / us["fp32"] * 1e6), ["bf16_samples_per_s"] = Math.Round(batch / us["bf16"] * 1e6),
            ["loss_relative_difference"] = Math.Abs(losses["bf16"] - losses["fp32"]) / Math.Abs(losses["fp32"]),
        };
    }

    /// <summary>
    /// Median microseconds per call of each variant, the variants taking turns in every repetition: wall time under
    /// the variant's name, and the calling thread's CPU time under name + "_cpu" (what counts with one thread on a
    /// busy machine; with two threads the other thread's work is not in it).
    /// </summary>
    private static Dictionary<string, double> Interleaved((string Name, Action Call)[] variants, int reps, int inner)
    {
        var times = variants.SelectMany(v => new[] { v.Name, v.Name + "_cpu" }).ToDictionary(n => n, _ => new List<double>());
        for (int rep = -3; rep < reps; rep++)
        {
            foreach (var (name, call) in rep % 2 == 0 ? variants : variants.Reverse())
            {
                double cpu = ThreadClock.Microseconds();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < inner; i++) call();
                if (rep < 0) continue;
                times[name].Add(clock.Elapsed.TotalMicroseconds / inner);
                times[name + "_cpu"].Add((ThreadClock.Microseconds() - cpu) / inner);
            }
        }
        return times.ToDictionary(t => t.Key, t => ComputeLimit.Median(t.Value));
    }
}
