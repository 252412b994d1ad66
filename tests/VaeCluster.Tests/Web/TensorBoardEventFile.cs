using System.Buffers.Binary;

namespace VaeCluster.Tests.Web;

/// <summary>
/// Reads a TensorBoard event file the way TensorBoard does: records of [u64 length][u32 masked CRC-32C of the
/// length][data][u32 masked CRC-32C of the data], each data an Event protocol buffer. Every checksum is checked.
/// </summary>
public static class TensorBoardEventFile
{
    public sealed record Value(long Step, string Tag, float? Scalar, byte[]? Png);

    public static IReadOnlyList<Value> Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var values = new List<Value>();
        int at = 0;
        while (at < bytes.Length)
        {
            var length = bytes.AsSpan(at, 8);
            long size = BinaryPrimitives.ReadInt64LittleEndian(length);
            Check(length, bytes.AsSpan(at + 8, 4), $"length of the record at byte {at}");
            var data = bytes.AsSpan(at + 12, checked((int)size));
            Check(data, bytes.AsSpan(at + 12 + (int)size, 4), $"data of the record at byte {at}");
            var e = Tensorboard.Event.Parser.ParseFrom(data.ToArray());
            if (e.Summary is { } summary)
                foreach (var v in summary.Value)
                    values.Add(new Value(e.Step, v.Tag, v.ValueCase == Tensorboard.Summary.Types.Value.ValueOneofCase.SimpleValue ? v.SimpleValue : null,
                        v.Image?.EncodedImageString.ToByteArray()));
            at += 12 + (int)size + 4;
        }
        return values;
    }

    private static void Check(ReadOnlySpan<byte> data, ReadOnlySpan<byte> stored, string what)
    {
        uint expected = Masked(Crc32C(data));
        uint actual = BinaryPrimitives.ReadUInt32LittleEndian(stored);
        if (expected != actual) throw new InvalidDataException($"{what}: masked CRC-32C {actual:x8}, computed {expected:x8}");
    }

    /// <summary>TFRecord's mask: rotate right by 15 bits and add a constant.</summary>
    private static uint Masked(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    /// <summary>CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: slow and plainly right.</summary>
    public static uint Crc32C(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFFu;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        return ~crc;
    }
}
