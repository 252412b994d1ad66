using static TorchSharp.torch;

namespace VaeCluster.Checkpoints;

/// <summary>What a safetensors file holds: its metadata and its F32 tensors in data-section order.</summary>
public sealed record SafeTensorsContent(
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<(string Name, long[] Shape, float[] Data)> Tensors)
{
    /// <summary>A new CPU float32 tensor holding a copy of the named tensor; the caller owns (disposes) it.</summary>
    public Tensor ToTensor(string name)
    {
        foreach (var (tensorName, shape, data) in Tensors)
        {
            if (tensorName == name) return tensor(data, shape, ScalarType.Float32);
        }
        throw new KeyNotFoundException($"no tensor named '{name}'");
    }
}
