using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VaeCluster.DataPlane;

/// <summary>
/// bfloat16: the upper 16 bits of a float32 (sign, 8 exponent bits, 7 mantissa bits), so it spans float32's range
/// with less precision. float32 is rounded to the nearest bfloat16, ties to even (as PyTorch and libtorch round);
/// NaN stays NaN (made quiet, sign kept), infinities stay infinite, and values beyond the largest bfloat16 become
/// infinite. Widening back is exact. The span conversions run a SIMD vector at a time (integer adds, shifts and a
/// select, no branches), so a payload costs one pass over its memory: far less than the bytes it saves take to send.
/// </summary>
public static class BFloat16
{
    private const uint AbsMask = 0x7FFF_FFFF, Infinity = 0x7F80_0000, QuietBit = 0x0040;

    public static ushort FromFloat(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        // A NaN whose payload sits in the lower half would round to infinity or carry into the sign: keep it NaN.
        if ((bits & AbsMask) > Infinity) return (ushort)((bits >> 16) | QuietBit);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }

    public static float ToFloat(ushort value) => BitConverter.UInt32BitsToSingle((uint)value << 16);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromFloats(ReadOnlySpan<float> source, Span<ushort> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("destination is shorter than source", nameof(destination));
        var bits = MemoryMarshal.Cast<float, uint>(source);
        int i = 0, width = Vector<uint>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i <= bits.Length - 2 * width; i += 2 * width)
                Vector.Narrow(Round(new Vector<uint>(bits[i..])), Round(new Vector<uint>(bits[(i + width)..]))).CopyTo(destination[i..]);
        for (; i < bits.Length; i++) destination[i] = FromFloat(source[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToFloats(ReadOnlySpan<ushort> source, Span<float> destination)
    {
        if (destination.Length < source.Length) throw new ArgumentException("destination is shorter than source", nameof(destination));
        var bits = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0, width = Vector<ushort>.Count;
        if (Vector.IsHardwareAccelerated)
            for (; i <= source.Length - width; i += width)
            {
                Vector.Widen(new Vector<ushort>(source[i..]), out var low, out var high);
                Vector.ShiftLeft(low, 16).CopyTo(bits[i..]);
                Vector.ShiftLeft(high, 16).CopyTo(bits[(i + width / 2)..]);
            }
        for (; i < source.Length; i++) destination[i] = ToFloat(source[i]);
    }

    /// <summary><see cref="FromFloat"/> on a vector of float32 bit patterns; the result sits in each lane's lower half.</summary>
    private static Vector<uint> Round(Vector<uint> bits)
    {
        var upper = Vector.ShiftRightLogical(bits, 16);
        var rounded = Vector.ShiftRightLogical(bits + new Vector<uint>(0x7FFF) + (upper & Vector<uint>.One), 16);
        var nan = Vector.GreaterThan(bits & new Vector<uint>(AbsMask), new Vector<uint>(Infinity));
        return Vector.ConditionalSelect(nan, upper | new Vector<uint>(QuietBit), rounded);
    }
}
