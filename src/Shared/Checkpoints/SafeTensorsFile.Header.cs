using System.Text.Json;

namespace VaeCluster.Checkpoints;

/// <summary>The JSON header: encoding it, parsing it, and checking it against the data section.</summary>
public static partial class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";
    private const string F32 = "F32";

    private sealed record HeaderEntry(string Name, long[] Shape, long Begin, long End);

    private static byte[] EncodeHeader(
        IReadOnlyList<(string Name, long[] Shape, float[] Data)> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            if (metadata.Count > 0)
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) w.WriteString(key, value);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, shape, data) in tensors)
            {
                if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor");
                if (!names.Add(name)) throw new ArgumentException($"tensor '{name}' appears twice");
                if (ElementCount(shape) is not { } count || count != data.Length)
                    throw new ArgumentException($"tensor '{name}': shape [{string.Join(", ", shape)}] does not hold {data.Length} values");

                w.WriteStartObject(name);
                w.WriteString("dtype", F32);
                w.WriteStartArray("shape");
                foreach (var d in shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                offset += data.LongLength * sizeof(float);
                w.WriteNumberValue(offset);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        // Padding to 8 keeps the data section aligned for readers that map the file; the spec pads with spaces.
        var unpadded = json.ToArray();
        var padded = new byte[(unpadded.Length + 7) / 8 * 8];
        unpadded.CopyTo(padded, 0);
        padded.AsSpan(unpadded.Length).Fill((byte)' ');
        return padded;
    }

    private static (IReadOnlyDictionary<string, string> Metadata, List<HeaderEntry> Entries) ParseHeader(string path, ReadOnlyMemory<byte> header)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new CheckpointError(path, $"header is not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointError(path, "header is not a JSON object");

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<HeaderEntry>();
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new CheckpointError(path, $"'{MetadataKey}' is not a JSON object");
                    foreach (var item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new CheckpointError(path, $"metadata '{item.Name}' is not a string");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                }
                else
                {
                    entries.Add(ParseEntry(path, property));
                }
            }
            return (metadata, entries);
        }
    }

    private static HeaderEntry ParseEntry(string path, JsonProperty property)
    {
        var name = property.Name;
        var v = property.Value;
        if (v.ValueKind != JsonValueKind.Object)
            throw new CheckpointError(path, $"tensor '{name}': header entry is not a JSON object");

        if (!v.TryGetProperty("dtype", out var dtype) || dtype.ValueKind != JsonValueKind.String)
            throw new CheckpointError(path, $"tensor '{name}': missing dtype");
        if (dtype.GetString() != F32)
            throw new CheckpointError(path, $"tensor '{name}': dtype {dtype.GetString()} is not supported (only F32)");

        var shape = ReadLongArray(path, name, v, "shape");
        if (shape.Any(d => d < 0))
            throw new CheckpointError(path, $"tensor '{name}': negative dimension in shape [{string.Join(", ", shape)}]");

        var offsets = ReadLongArray(path, name, v, "data_offsets");
        if (offsets.Length != 2)
            throw new CheckpointError(path, $"tensor '{name}': data_offsets must be [begin, end]");
        return new HeaderEntry(name, shape, offsets[0], offsets[1]);
    }

    private static long[] ReadLongArray(string path, string name, JsonElement entry, string key)
    {
        if (!entry.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
            throw new CheckpointError(path, $"tensor '{name}': missing {key}");
        var values = new long[array.GetArrayLength()];
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out values[i++]))
                throw new CheckpointError(path, $"tensor '{name}': {key} holds a non-integer");
        }
        return values;
    }

    /// <summary>
    /// As strict as the reference reader: tensors tile the data section exactly (no overlap, no gap, nothing
    /// left over), and each one's byte range matches its shape.
    /// </summary>
    private static void ValidateLayout(string path, List<HeaderEntry> entries, long dataLength)
    {
        long expectedBegin = 0;
        foreach (var e in entries.OrderBy(e => e.Begin))
        {
            if (e.Begin < 0 || e.End < e.Begin || e.End > dataLength)
                throw new CheckpointError(path, $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] fall outside the {dataLength}-byte data section");
            if (e.Begin != expectedBegin)
                throw new CheckpointError(path, e.Begin < expectedBegin
                    ? $"tensor '{e.Name}': data_offsets [{e.Begin}, {e.End}] overlap the previous tensor (ends at {expectedBegin})"
                    : $"tensor '{e.Name}': gap before data_offsets [{e.Begin}, {e.End}] (previous tensor ends at {expectedBegin})");
            if (ElementCount(e.Shape) is not { } count || count * sizeof(float) != e.End - e.Begin)
                throw new CheckpointError(path, $"tensor '{e.Name}': shape [{string.Join(", ", e.Shape)}] needs a different byte count than data_offsets [{e.Begin}, {e.End}]");
            expectedBegin = e.End;
        }
        if (expectedBegin != dataLength)
            throw new CheckpointError(path, $"data section is {dataLength} bytes but the tensors cover {expectedBegin}");
    }

    /// <summary>Product of the dimensions; null on overflow (a corrupt shape must not wrap around to a plausible size).</summary>
    private static long? ElementCount(long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) return null;
            try { count = checked(count * d); }
            catch (OverflowException) { return null; }
        }
        return count;
    }
}
