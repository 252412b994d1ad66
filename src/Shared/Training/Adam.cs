using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// Adam exactly as torch.optim.Adam computes it (no weight decay, no amsgrad), in one SIMD pass over each
/// parameter's memory instead of torch's ten passes with temporaries: the update runs while every worker waits,
/// so its cost is paid on every step. Its state is plain tensors, which checkpoints store.
/// </summary>
public sealed class Adam : IDisposable
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;

    private readonly IReadOnlyList<Tensor> parameters;
    private readonly double learningRate;

    public long Step { get; private set; }
    public IReadOnlyList<Tensor> ExpAvg { get; }
    public IReadOnlyList<Tensor> ExpAvgSq { get; }

    public Adam(IReadOnlyList<(string Name, Tensor Tensor)> parameters, double learningRate)
    {
        this.parameters = parameters.Select(p => p.Tensor).ToList();
        this.learningRate = learningRate;
        ExpAvg = this.parameters.Select(p => zeros_like(p)).ToList();
        ExpAvgSq = this.parameters.Select(p => zeros_like(p)).ToList();
    }

    /// <summary>Applies one update given the gradient of each parameter (same order as the parameters).</summary>
    public void Apply(IReadOnlyList<Tensor> gradients)
    {
        if (gradients.Count != parameters.Count)
            throw new ArgumentException($"expected {parameters.Count} gradients, got {gradients.Count}");
        Step++;
        // As PyTorch: scalars in double, then used as float32 by the element-wise kernel.
        float stepSize = (float)(learningRate / (1 - Math.Pow(Beta1, Step)));
        float bias2Sqrt = (float)Math.Sqrt(1 - Math.Pow(Beta2, Step));
        TensorChunks.ForEach(parameters, (t, start, length) =>
        {
            Update(TensorChunks.Floats(parameters[t], start, length), TensorChunks.Floats(gradients[t], start, length),
                TensorChunks.Floats(ExpAvg[t], start, length), TensorChunks.Floats(ExpAvgSq[t], start, length),
                stepSize, bias2Sqrt);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Update(Span<float> p, Span<float> g, Span<float> m, Span<float> v, float stepSize, float bias2Sqrt)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var pv = MemoryMarshal.Cast<float, Vector<float>>(p);
            var gv = MemoryMarshal.Cast<float, Vector<float>>(g);
            var mv = MemoryMarshal.Cast<float, Vector<float>>(m);
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            for (int k = 0; k < pv.Length; k++)
            {
                mv[k] = mv[k] * Beta1 + gv[k] * (1 - Beta1);
                vv[k] = vv[k] * Beta2 + gv[k] * gv[k] * (1 - Beta2);
                var denom = Vector.SquareRoot(vv[k]) / bias2Sqrt + new Vector<float>(Epsilon);
                pv[k] -= stepSize * mv[k] / denom;
            }
            i = pv.Length * Vector<float>.Count;
        }
        for (; i < p.Length; i++)
        {
            m[i] = m[i] * Beta1 + g[i] * (1 - Beta1);
            v[i] = v[i] * Beta2 + g[i] * g[i] * (1 - Beta2);
            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) / bias2Sqrt + Epsilon);
        }
    }

    /// <summary>Restores state saved from a run with the same parameter list.</summary>
    public void Restore(long step, IReadOnlyList<Tensor> expAvg, IReadOnlyList<Tensor> expAvgSq)
    {
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            ExpAvg[i].copy_(expAvg[i]);
            ExpAvgSq[i].copy_(expAvgSq[i]);
        }
        Step = step;
    }

    public void Dispose()
    {
        foreach (var t in ExpAvg.Concat(ExpAvgSq)) t.Dispose();
    }
}
