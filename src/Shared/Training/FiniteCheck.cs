using System.Numerics;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace VaeCluster.Training;

/// <summary>Whether float32 tensors hold only finite numbers: one SIMD pass, spread across the cores.</summary>
public static class FiniteCheck
{
    public static bool AllFinite(IReadOnlyList<Tensor> tensors)
    {
        int bad = 0;
        TensorChunks.ForEach(tensors, (t, start, length) =>
        {
            if (Volatile.Read(ref bad) == 0 && !AllFinite(TensorChunks.Floats(tensors[t], start, length))) Volatile.Write(ref bad, 1);
        });
        return bad == 0;
    }

    /// <summary>Copies <paramref name="from"/> into <paramref name="to"/> and says whether it was all finite, in one pass.</summary>
    public static bool CopyAllFinite(ReadOnlySpan<float> from, Span<float> to)
    {
        var source = MemoryMarshal.Cast<float, Vector<float>>(from);
        var target = MemoryMarshal.Cast<float, Vector<float>>(to);
        var acc = Vector<float>.Zero;
        for (int k = 0; k < source.Length; k++)
        {
            var v = source[k];
            target[k] = v;
            acc += v - v;
        }
        bool finite = Vector.EqualsAll(acc, Vector<float>.Zero);
        for (int i = source.Length * Vector<float>.Count; i < from.Length; i++)
        {
            to[i] = from[i];
            finite &= float.IsFinite(from[i]);
        }
        return finite;
    }

    public static bool AllFinite(ReadOnlySpan<float> values)
    {
        // x - x is 0 for every finite x and NaN for NaN and ±Inf; NaN never equals 0.
        var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
        var acc = Vector<float>.Zero;
        foreach (var v in vectors) acc += v - v;
        if (!Vector.EqualsAll(acc, Vector<float>.Zero)) return false;
        for (int i = vectors.Length * Vector<float>.Count; i < values.Length; i++)
            if (!float.IsFinite(values[i])) return false;
        return true;
    }
}
