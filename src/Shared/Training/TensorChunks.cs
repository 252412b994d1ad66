using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>
/// Runs an element-wise loop over several float32 tensors' memory, in chunks spread across the cores.
/// Used where torch would make many passes (and temporaries) over parameter-sized tensors every step.
/// </summary>
public static class TensorChunks
{
    private const int ChunkElements = 1 << 15;

    public delegate void ChunkAction(int tensorIndex, int start, int length);

    /// <summary>Calls <paramref name="action"/> for every chunk of every tensor of the given sizes, in parallel.</summary>
    public static void ForEach(IReadOnlyList<Tensor> shapes, ChunkAction action)
    {
        var chunks = new List<(int Tensor, int Start, int Length)>();
        for (int t = 0; t < shapes.Count; t++)
        {
            int n = checked((int)shapes[t].numel());
            for (int start = 0; start < n; start += ChunkElements) chunks.Add((t, start, Math.Min(ChunkElements, n - start)));
        }
        Parallel.For(0, chunks.Count, i => action(chunks[i].Tensor, chunks[i].Start, chunks[i].Length));
    }

    /// <summary>The tensor's memory as floats (zero-copy); it must be a contiguous float32 CPU tensor.</summary>
    public static Span<float> Floats(Tensor tensor, int start, int length)
    {
        if (tensor.dtype != ScalarType.Float32 || !tensor.is_contiguous())
            throw new ArgumentException("expected a contiguous float32 tensor", nameof(tensor));
        return MemoryMarshal.Cast<byte, float>(tensor.bytes).Slice(start, length);
    }
}
