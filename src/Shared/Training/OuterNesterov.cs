using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// The outer optimizer of low-communication training (DiLoCo): SGD with Nesterov momentum applied to the averaged
/// parameter change of a round, exactly as torch.optim.SGD(nesterov=True, dampening=0) treats a gradient:
/// <c>buf = momentum * buf + change; params -= lr * (change + momentum * buf)</c>. The momentum buffer starts at
/// zero, which gives torch's first step (buf = change) too. Its state is one tensor per parameter, which checkpoints
/// store.
/// </summary>
public sealed class OuterNesterov : IDisposable
{
    private readonly IReadOnlyList<Tensor> parameters;
    private readonly double learningRate, momentum;

    public IReadOnlyList<Tensor> Momentum { get; }

    public OuterNesterov(IReadOnlyList<(string Name, Tensor Tensor)> parameters, double learningRate, double momentum)
    {
        this.parameters = parameters.Select(p => p.Tensor).ToList();
        this.learningRate = learningRate;
        this.momentum = momentum;
        Momentum = this.parameters.Select(p => zeros_like(p)).ToList();
    }

    /// <summary>Applies one outer step given the averaged change of each parameter (start minus end, same order).</summary>
    public void Apply(IReadOnlyList<Tensor> change)
    {
        if (change.Count != parameters.Count) throw new ArgumentException($"expected {parameters.Count} changes, got {change.Count}");
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            using var scope = NewDisposeScope();
            Momentum[i].mul_(momentum).add_(change[i]);
            parameters[i].add_(change[i].add(Momentum[i], alpha: momentum), alpha: -learningRate);
        }
    }

    public void Restore(IReadOnlyList<Tensor> momentumBuffers)
    {
        using var _ = no_grad();
        for (int i = 0; i < parameters.Count; i++) Momentum[i].copy_(momentumBuffers[i]);
    }

    public void Dispose()
    {
        foreach (var t in Momentum) t.Dispose();
    }
}
