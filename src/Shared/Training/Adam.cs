using TorchSharp;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// Adam exactly as torch.optim.Adam computes it (single-tensor path, no weight decay, no amsgrad).
/// Written out rather than using TorchSharp's optimizer so that its state is plain tensors we can checkpoint,
/// and so that each parameter's update can run on its own thread.
/// </summary>
public sealed class Adam : IDisposable
{
    private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    private readonly IReadOnlyList<(string Name, Tensor Tensor)> parameters;
    private readonly double learningRate;

    public long Step { get; private set; }
    public IReadOnlyList<Tensor> ExpAvg { get; }
    public IReadOnlyList<Tensor> ExpAvgSq { get; }

    public Adam(IReadOnlyList<(string Name, Tensor Tensor)> parameters, double learningRate)
    {
        this.parameters = parameters;
        this.learningRate = learningRate;
        ExpAvg = parameters.Select(p => zeros_like(p.Tensor)).ToList();
        ExpAvgSq = parameters.Select(p => zeros_like(p.Tensor)).ToList();
    }

    /// <summary>Applies one update given the gradient of each parameter (same order as the parameters).</summary>
    public void Apply(IReadOnlyList<Tensor> gradients)
    {
        if (gradients.Count != parameters.Count)
            throw new ArgumentException($"expected {parameters.Count} gradients, got {gradients.Count}");
        Step++;
        double bias1 = 1 - Math.Pow(Beta1, Step);
        double bias2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, Step));
        double stepSize = learningRate / bias1;
        // The two large weight matrices dominate; updating tensors in parallel keeps the optimizer off the critical path.
        Parallel.For(0, parameters.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var g = gradients[i];
            ExpAvg[i].mul_(Beta1).add_(g, alpha: 1 - Beta1);
            ExpAvgSq[i].mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denom = ExpAvgSq[i].sqrt().div_(bias2Sqrt).add_(Epsilon);
            parameters[i].Tensor.addcdiv_(ExpAvg[i], denom, value: -stepSize);
        });
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
