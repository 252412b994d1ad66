using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// What training, evaluation and generation need from a model, whichever kind it is. Parameters keep a fixed,
/// state_dict-like order and names: gradients, Adam moments and checkpoints are lists in that order.
/// </summary>
public interface IVae : IDisposable
{
    ModelShape Shape { get; }

    IReadOnlyList<(string Name, Tensor Tensor)> NamedParameters();

    /// <summary>Computes with another model's parameter storage (single-process workers); gradients stay this model's own.</summary>
    void ShareParametersOf(IReadOnlyList<(string Name, Tensor Tensor)> master);

    /// <summary>Copies saved values into the parameters; names and shapes must match exactly.</summary>
    void LoadParameters(IReadOnlyDictionary<string, Tensor> saved);

    /// <summary>
    /// The negative ELBO summed over the batch (sums, so shard losses add up to the global batch's), with its
    /// reconstruction and KL parts. <paramref name="labels"/> are int64 digits; an unconditional model ignores them.
    /// </summary>
    (Tensor Total, Tensor Reconstruction, Tensor Kl) Loss(Tensor x, Tensor labels, Tensor eps);

    /// <summary>
    /// The negative ELBO of log p(x) summed over the batch, without labels: what compares across model kinds.
    /// For the reference VAE it is <see cref="Loss"/>'s total.
    /// </summary>
    Tensor UnconditionalLoss(Tensor x, Tensor eps);

    /// <summary>
    /// What a worker computes for a shard: <see cref="Loss"/>'s total and the gradient of every parameter, in
    /// <see cref="NamedParameters"/> order, as fresh tensors in the caller's dispose scope (the caller owns them;
    /// the model keeps no gradient). By default autograd's; the reference VAE writes its backward out by hand.
    /// <paramref name="arrival"/>, where the parameters are still streaming in: by default the computation waits for
    /// all of them; the reference VAE starts each layer once its own are in.
    /// </summary>
    (float Loss, IReadOnlyList<Tensor> Gradients) LossAndGradients(Tensor x, Tensor labels, Tensor eps, DataPlane.ParameterArrival? arrival = null)
    {
        arrival?.WaitForAll();
        var loss = Loss(x, labels, eps).Total;
        loss.backward();
        // Take the gradient tensors and drop the model's references (PyTorch's zero_grad(set_to_none)), so the next
        // backward allocates fresh ones and the caller owns these outright.
        var gradients = NamedParameters().Select(p => p.Tensor.grad!).ToList();
        zero_grad(set_to_none: true);
        return (loss.item<float>(), gradients);
    }

    /// <summary>The approximate posterior q(z|x): its mean and log-variance.</summary>
    (Tensor Mu, Tensor LogVar) Encode(Tensor x);

    /// <summary>Images (pixel probabilities) decoded from latent codes.</summary>
    Tensor Decode(Tensor z);

    /// <summary>Each image decoded from its mean code.</summary>
    Tensor Reconstruct(Tensor x, Tensor labels);

    /// <summary>
    /// Decodes new digits from standard normal <paramref name="eps"/>; <paramref name="digits"/> (int64) asks for
    /// digits; <paramref name="generator"/> draws whatever else the model's sampling needs (the mixture's component).
    /// </summary>
    Tensor Generate(Tensor eps, Tensor? digits, Generator? generator = null);

    /// <summary>What model.safetensors holds: the parameters, then any fixed tensors the model is defined by.</summary>
    IReadOnlyList<(string Name, Tensor Tensor)> ExportTensors();

    void zero_grad(bool set_to_none = true);
}
