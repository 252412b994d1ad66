using System.Buffers;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// How a payload's float32 tensors become bytes on a TCP link and back (--wire; docs/WIRE_FORMAT.md): the one place
/// that knows. float32 goes from tensor memory to the socket as it is; bfloat16 is rounded a chunk at a time into a
/// small pooled buffer and widened back on arrival, so every tensor a node or the coordinator holds stays float32.
/// </summary>
public abstract class PayloadCodec
{
    public static readonly PayloadCodec Fp32 = new Float32Codec();
    public static readonly PayloadCodec Bf16 = new BFloat16Codec();

    public static PayloadCodec For(WirePrecision precision) => precision switch
    {
        WirePrecision.Fp32 => Fp32,
        WirePrecision.Bf16 => Bf16,
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    public abstract WirePrecision Precision { get; }

    /// <summary>Bytes one value takes on the wire.</summary>
    public abstract int BytesPerValue { get; }

    public long PayloadBytes(IReadOnlyList<Tensor> tensors) => tensors.Sum(t => t.numel()) * BytesPerValue;

    public long PayloadBytes(IReadOnlyList<TensorLayout> layout) => layout.Sum(t => t.Elements) * BytesPerValue;

    /// <summary>Hands <paramref name="values"/>' wire bytes to <paramref name="send"/>, in order, in one or more pieces.</summary>
    public abstract void Write(ReadOnlySpan<float> values, BytesOut send);

    /// <summary>Fills <paramref name="into"/> from wire bytes that <paramref name="receive"/> reads, exactly as many as it takes.</summary>
    public abstract void Read(Span<float> into, BytesIn receive);

    /// <summary>
    /// A float32 copy of <paramref name="values"/> holding exactly what arrives after they cross the wire this way (the
    /// caller owns it): for a frame that must travel as float32 yet compute as if it had crossed in this precision.
    /// </summary>
    public abstract Tensor Rounded(Tensor values);

    public override string ToString() => WirePrecisionName.Of(Precision);

    public delegate void BytesOut(ReadOnlySpan<byte> bytes);

    public delegate void BytesIn(Span<byte> into);

    private sealed class Float32Codec : PayloadCodec
    {
        public override WirePrecision Precision => WirePrecision.Fp32;
        public override int BytesPerValue => sizeof(float);
        public override void Write(ReadOnlySpan<float> values, BytesOut send) => send(MemoryMarshal.AsBytes(values));
        public override void Read(Span<float> into, BytesIn receive) => receive(MemoryMarshal.AsBytes(into));

        public override Tensor Rounded(Tensor values) => values.clone();
    }

    private sealed class BFloat16Codec : PayloadCodec
    {
        /// <summary>Values per chunk: 128 kB on the wire, small enough to stay in cache between converting and sending.</summary>
        private const int ChunkValues = 1 << 16;

        public override WirePrecision Precision => WirePrecision.Bf16;
        public override int BytesPerValue => sizeof(ushort);

        public override void Write(ReadOnlySpan<float> values, BytesOut send)
        {
            var buffer = ArrayPool<ushort>.Shared.Rent(Math.Min(ChunkValues, values.Length));
            try
            {
                for (int start = 0; start < values.Length; start += ChunkValues)
                {
                    var chunk = values.Slice(start, Math.Min(ChunkValues, values.Length - start));
                    var wire = buffer.AsSpan(0, chunk.Length);
                    BFloat16.FromFloats(chunk, wire);
                    send(MemoryMarshal.AsBytes(wire));
                }
            }
            finally
            {
                ArrayPool<ushort>.Shared.Return(buffer);
            }
        }

        public override Tensor Rounded(Tensor values)
        {
            // Through the codec's own two halves, so the values are the wire's by construction.
            var copy = values.contiguous().clone();
            var floats = MemoryMarshal.Cast<byte, float>(copy.bytes);
            var wire = new byte[floats.Length * BytesPerValue];
            int at = 0;
            Write(floats, bytes => { bytes.CopyTo(wire.AsSpan(at)); at += bytes.Length; });
            at = 0;
            Read(floats, into => { wire.AsSpan(at, into.Length).CopyTo(into); at += into.Length; });
            return copy;
        }

        public override void Read(Span<float> into, BytesIn receive)
        {
            var buffer = ArrayPool<ushort>.Shared.Rent(Math.Min(ChunkValues, into.Length));
            try
            {
                for (int start = 0; start < into.Length; start += ChunkValues)
                {
                    var chunk = into.Slice(start, Math.Min(ChunkValues, into.Length - start));
                    var wire = buffer.AsSpan(0, chunk.Length);
                    receive(MemoryMarshal.AsBytes(wire));
                    BFloat16.ToFloats(wire, chunk);
                }
            }
            finally
            {
                ArrayPool<ushort>.Shared.Return(buffer);
            }
        }
    }
}
