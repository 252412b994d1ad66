using System.Numerics;
using System.Runtime.InteropServices;
using VaeCluster.DataPlane;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.DataPlane;

/// <summary>float32 to bfloat16 and back (--wire bf16): rounding to nearest even, the special values, and the vector path.</summary>
public sealed class BFloat16Tests
{
    /// <summary>float32 bits, and the bfloat16 bits they must round to.</summary>
    public static TheoryData<uint, ushort> KnownValues() => new()
    {
        { 0x3F80_0000, 0x3F80 }, // 1
        { 0xC000_0000, 0xC000 }, // -2
        { 0x0000_0000, 0x0000 }, // 0
        { 0x8000_0000, 0x8000 }, // -0 keeps its sign
        { 0x3F80_7FFF, 0x3F80 }, // just below half way: down
        { 0x3F80_8001, 0x3F81 }, // just above half way: up
        { 0x3F80_8000, 0x3F80 }, // a tie, to the even neighbour below
        { 0x3F81_8000, 0x3F82 }, // a tie, to the even neighbour above
        { 0xBF81_8000, 0xBF82 }, // the same for a negative value
        { 0x0001_8000, 0x0002 }, // a tie between subnormals
        { 0x0000_0001, 0x0000 }, // the smallest subnormal rounds to zero
        { 0x7F7F_7FFF, 0x7F7F }, // the largest bfloat16 stays
        { 0x7F7F_FFFF, 0x7F80 }, // float32's largest lies beyond it: infinity, as rounding says
        { 0x7F80_0000, 0x7F80 }, // +infinity
        { 0xFF80_0000, 0xFF80 }, // -infinity
        { 0x7FC0_0000, 0x7FC0 }, // a quiet NaN
        { 0xFFC0_0000, 0xFFC0 }, // float.NaN in .NET (negative, quiet)
        { 0x7F80_0001, 0x7FC0 }, // a NaN whose payload is all in the lower half: plain rounding would make it infinity
        { 0x7FFF_FFFF, 0x7FFF }, // plain rounding would carry into the sign and make it -0
    };

    [Theory]
    [MemberData(nameof(KnownValues))]
    public void Rounds_to_nearest_even_and_keeps_the_special_values(uint float32, ushort expected)
    {
        float value = BitConverter.UInt32BitsToSingle(float32);
        Assert.Equal(expected, BFloat16.FromFloat(value));
        // The vector path must agree with the scalar one: the value at every lane, and in the scalar tail.
        var many = Enumerable.Repeat(value, 4 * Vector<uint>.Count + 3).ToArray();
        var wire = new ushort[many.Length];
        BFloat16.FromFloats(many, wire);
        Assert.All(wire, w => Assert.Equal(expected, w));
    }

    [Fact]
    public void Widening_is_exact_and_rounding_it_again_gives_the_same_bits()
    {
        var every = Enumerable.Range(0, 1 << 16).Select(i => (ushort)i).ToArray();
        var widened = new float[every.Length];
        var again = new ushort[every.Length];
        BFloat16.ToFloats(every, widened);
        BFloat16.FromFloats(widened, again);
        for (int i = 0; i < every.Length; i++)
        {
            Assert.Equal((uint)every[i] << 16, BitConverter.SingleToUInt32Bits(widened[i]));
            if (float.IsNaN(widened[i])) Assert.True(float.IsNaN(BFloat16.ToFloat(again[i])));
            else Assert.Equal(every[i], again[i]);
        }
    }

    [Fact]
    public void Rounds_as_libtorch_does()
    {
        // Values across float32's whole range, subnormals and ties included; libtorch's own conversion is the reference.
        var random = new Random(13);
        var values = Enumerable.Range(0, 100_003).Select(_ => BitConverter.UInt32BitsToSingle((uint)random.NextInt64(0, 1L << 32)))
            .Where(v => !float.IsNaN(v)).Concat([BitConverter.UInt32BitsToSingle(0x3F80_8000), BitConverter.UInt32BitsToSingle(0x3F81_8000), float.MaxValue]).ToArray();
        var ours = new ushort[values.Length];
        BFloat16.FromFloats(values, ours);
        using var reference = tensor(values).to(ScalarType.BFloat16);
        var theirs = MemoryMarshal.Cast<byte, ushort>(reference.bytes).ToArray();
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void The_bf16_codec_carries_a_payload_longer_than_its_chunks_as_each_value_rounded()
    {
        var values = Enumerable.Range(0, 200_001).Select(i => MathF.Sin(i) * 1000).ToArray();
        var wire = new MemoryStream();
        PayloadCodec.Bf16.Write(values, bytes => wire.Write(bytes));
        Assert.Equal(2L * values.Length, wire.Length);
        wire.Position = 0;
        var back = new float[values.Length];
        PayloadCodec.Bf16.Read(back, into => wire.ReadExactly(into));
        for (int i = 0; i < values.Length; i++) Assert.Equal(BFloat16.ToFloat(BFloat16.FromFloat(values[i])), back[i]);
        Assert.NotEqual(values, back); // rounded, not copied
    }
}
