using VaeCluster.Protocol;
using VaeCluster.Training;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// The tensors of round frames (--sync-every above 1), whichever transport carries them: inner Adam moments travel
/// inside the frame on every transport (they move only at a resume or a checkpoint); the parameters and the change go
/// the transport's usual way (in the frame over TCP, through the regions over shared memory).
/// </summary>
internal static class RoundTensors
{
    /// <summary>The inner moments of a state, in payload order (first moments, then second), or none.</summary>
    public static IReadOnlyList<Tensor> Moments(InnerOptimizerState? inner) =>
        inner is null ? [] : [.. inner.ExpAvg, .. inner.ExpAvgSq];

    /// <summary>Fresh tensors of the layout, twice, filled by <paramref name="fill"/>; released if filling fails.</summary>
    public static InnerOptimizerState ReceiveInner(long step, IReadOnlyList<TensorLayout> layout, Action<IReadOnlyList<Tensor>> fill)
    {
        var m = layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList();
        var v = layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList();
        var state = new InnerOptimizerState(step, m, v);
        try
        {
            fill([.. m, .. v]);
            return state;
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A round's answer as the coordinator takes it in: fresh tensors for the change and (if the header says so) the
    /// moments, filled by <paramref name="fill"/> (which tells the callback it is given how many tensors are in place
    /// after each) and which says whether the change is all finite, or null to have it checked here; released if it
    /// fails. With moments and
    /// <paramref name="changeFirst"/>, the change is handed there as soon as it is in, and the answer returned is then
    /// a <see cref="RoundInnerAnswer"/>; a failure after that releases only the moments.
    /// </summary>
    public static NodeAnswer Receive(RoundResultFrame header, IReadOnlyList<TensorLayout> layout,
        Func<IReadOnlyList<Tensor>, IReadOnlyList<Tensor>, Action<int>?, bool?> fill, Action<RoundAnswer>? changeFirst = null)
    {
        var change = layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList();
        InnerOptimizerState? inner = header.HasInner
            ? new InnerOptimizerState(header.InnerStep, layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList(),
                layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList())
            : null;
        bool handedOut = false;
        Action<int>? arrived = inner is null || changeFirst is null ? null : inPlace =>
        {
            if (inPlace != change.Count) return;
            handedOut = true;
            changeFirst(new RoundAnswer(header, new GradientSum(change), null, AllFinite(change)));
        };
        try
        {
            bool? finite = fill(change, Moments(inner), arrived);
            // Once handed out, the change is the coordinator's (which may have applied and released it already).
            if (handedOut) return new RoundInnerAnswer(header, inner!);
            return new RoundAnswer(header, new GradientSum(change), inner, finite ?? AllFinite(change));
        }
        catch
        {
            if (!handedOut) foreach (var t in change) t.Dispose();
            inner?.Dispose();
            throw;
        }
    }

    public static bool AllFinite(IReadOnlyList<Tensor> tensors) =>
        tensors.All(t => FiniteCheck.AllFinite(TensorChunks.Floats(t, 0, checked((int)t.numel()))));
}
