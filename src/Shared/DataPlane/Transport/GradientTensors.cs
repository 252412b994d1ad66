using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>A node's gradient as the coordinator takes it in, whichever way it travelled.</summary>
internal static class GradientTensors
{
    /// <summary>
    /// Fresh tensors of the layout, filled by <paramref name="fill"/> (which says whether every value is finite); the
    /// answer then owns them, and they are released if filling fails.
    /// </summary>
    public static GradientAnswer Receive(GradientFrame header, IReadOnlyList<TensorLayout> layout, Func<IReadOnlyList<Tensor>, bool> fill)
    {
        var tensors = layout.Select(t => empty(t.Shape, ScalarType.Float32)).ToList();
        try
        {
            bool finite = fill(tensors);
            return new GradientAnswer(header, new GradientSum(tensors), finite);
        }
        catch
        {
            foreach (var t in tensors) t.Dispose();
            throw;
        }
    }
}
