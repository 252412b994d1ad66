using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>One tensor of a payload: payloads are the tensors of this list, in order, back to back (in the link's encoding on TCP, see PayloadCodec).</summary>
public sealed record TensorLayout(string Name, long[] Shape)
{
    public long Elements => Shape.Aggregate(1L, (a, b) => a * b);

    public static IReadOnlyList<TensorLayout> Of(IReadOnlyList<(string Name, Tensor Tensor)> tensors) =>
        tensors.Select(t => new TensorLayout(t.Name, t.Tensor.shape)).ToList();

    /// <summary>The layout's size in float32, as shared memory holds it.</summary>
    public static long PayloadBytes(IReadOnlyList<TensorLayout> layout) => layout.Sum(t => t.Elements) * sizeof(float);

    /// <summary>True when both lists name the same tensors with the same shapes, in the same order.</summary>
    public static bool SameAs(IReadOnlyList<TensorLayout> a, IReadOnlyList<TensorLayout> b) =>
        a.Count == b.Count && a.Zip(b).All(p => p.First.Name == p.Second.Name && p.First.Shape.SequenceEqual(p.Second.Shape));

    public override string ToString() => $"{Name}[{string.Join(",", Shape)}]";
}
