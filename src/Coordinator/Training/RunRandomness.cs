using VaeCluster.Checkpoints;
using static TorchSharp.torch;

namespace VaeCluster.Coordinator.Training;

/// <summary>
/// The run's one random stream, drawn in the order PyTorch's reference script draws from torch's global
/// generator: the initial weights (<see cref="VaeCluster.Model.ModelFactory.CreateSeeded"/>), then for each epoch
/// <c>randperm(train set)</c>, one <c>randn(batch, latent)</c> per step and <c>randn(1000, latent)</c> per chunk
/// of the test set at the epoch's end. libtorch's CPU generator is PyTorch's, so <c>--seed S</c> draws exactly
/// what <c>torch.manual_seed(S)</c> does in <c>pytorch_vae.py</c>: the same weights, batches and noise. Only
/// float rounding (shards summed in another order) separates the two runs.
/// </summary>
public sealed class RunRandomness(Generator stream) : IDisposable
{
    private byte[]? beforePermutation;

    /// <summary>The order of one epoch over <paramref name="count"/> training samples.</summary>
    public int[] DrawPermutation(int count)
    {
        beforePermutation = State();
        using var order = randperm(count, generator: stream);
        return order.data<long>().ToArray().Select(i => (int)i).ToArray();
    }

    /// <summary>Reparameterisation noise for <paramref name="rows"/> samples, [rows x latent].</summary>
    public Tensor DrawNoise(long rows, int latent) => randn(new[] { rows, (long)latent }, generator: stream);

    /// <summary>
    /// Where the stream stands, and where it stood before this epoch's permutation, so a resumed run can redraw
    /// the epoch's order and then continue exactly here.
    /// </summary>
    public RandomStreamState Capture() =>
        new(beforePermutation ?? throw new InvalidOperationException("no epoch has been ordered yet"), State());

    /// <summary>Puts the stream back where <paramref name="state"/> says and returns the epoch's order again.</summary>
    public int[] Restore(RandomStreamState state, int count)
    {
        SetState(state.BeforePermutation);
        var order = DrawPermutation(count);
        SetState(state.Current);
        return order;
    }

    private byte[] State()
    {
        using var state = stream.get_state();
        return state.data<byte>().ToArray();
    }

    private void SetState(byte[] bytes)
    {
        using var state = tensor(bytes, ScalarType.Byte);
        stream.set_state(state);
    }

    public void Dispose() => stream.Dispose();
}
