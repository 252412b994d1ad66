using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using TorchSharp;
using VaeCluster.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Checkpoints;

public sealed class SafeTensorsFileTests : IDisposable
{
    private readonly TempDirectory dir = new();
    private readonly DisposeScope scope = NewDisposeScope();

    public void Dispose()
    {
        scope.Dispose();
        dir.Dispose();
    }

    private static readonly Dictionary<string, string> SomeMetadata = new() { ["kind"] = "test", ["note"] = "ünïcode ✓" };

    [Fact]
    public void Should_round_trip_names_shapes_values_and_metadata()
    {
        var path = dir.File("a.safetensors");
        var weight = arange(0, 12, dtype: ScalarType.Float32).reshape(3, 4) * 0.5f;
        var bias = tensor(new[] { -1.5f, float.Epsilon, float.MaxValue }, ScalarType.Float32);
        var scalar = tensor(42f);

        SafeTensorsFile.Write(path, [("fc.weight", weight), ("fc.bias", bias), ("scale", scalar)], SomeMetadata);
        var content = SafeTensorsFile.Read(path);

        Assert.Equal(SomeMetadata, content.Metadata);
        Assert.Equal(["fc.weight", "fc.bias", "scale"], content.Tensors.Select(t => t.Name));
        Assert.Equal([3L, 4L], content.Tensors[0].Shape);
        Assert.Equal([3L], content.Tensors[1].Shape);
        Assert.Empty(content.Tensors[2].Shape);
        Assert.Equal(weight.data<float>().ToArray(), content.Tensors[0].Data);
        Assert.Equal(new[] { -1.5f, float.Epsilon, float.MaxValue }, content.Tensors[1].Data);
        Assert.Equal(new[] { 42f }, content.Tensors[2].Data);

        var back = content.ToTensor("fc.weight");
        Assert.Equal(ScalarType.Float32, back.dtype);
        Assert.Equal([3L, 4L], back.shape);
        Assert.Equal(weight.data<float>().ToArray(), back.data<float>().ToArray());
    }

    [Fact]
    public void Should_lay_out_file_exactly_as_the_safetensors_spec_says()
    {
        var path = dir.File("layout.safetensors");
        var a = tensor(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, [2, 3]);
        var b = tensor(new[] { -0.25f }, [1]);
        SafeTensorsFile.Write(path, [("a", a), ("b", b)], SomeMetadata);

        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, n % 8);
        Assert.Equal((byte)'{', bytes[8]);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.Equal(headerText.TrimEnd(' ').Length, headerText.TrimEnd().Length); // only spaces pad it
        Assert.True(headerText.TrimEnd(' ').Length > n - 8, "padding is less than 8 bytes");

        using var header = JsonDocument.Parse(headerText);
        var root = header.RootElement;
        Assert.Equal(["__metadata__", "a", "b"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal("test", root.GetProperty("__metadata__").GetProperty("kind").GetString());
        Assert.All(root.GetProperty("__metadata__").EnumerateObject(), p => Assert.Equal(JsonValueKind.String, p.Value.ValueKind));

        var dataStart = 8 + n;
        foreach (var (name, expectedShape, expectedBegin, values) in new[]
                 {
                     ("a", new long[] { 2, 3 }, 0L, new[] { 1f, 2f, 3f, 4f, 5f, 6f }),
                     ("b", new long[] { 1 }, 24L, new[] { -0.25f }),
                 })
        {
            var entry = root.GetProperty(name);
            // Python's safetensors accepts exactly these three keys per tensor.
            Assert.Equal(["dtype", "shape", "data_offsets"], entry.EnumerateObject().Select(p => p.Name));
            Assert.Equal("F32", entry.GetProperty("dtype").GetString());
            Assert.Equal(expectedShape, entry.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            var offsets = entry.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal([expectedBegin, expectedBegin + values.Length * 4L], offsets);
            for (var i = 0; i < values.Length; i++)
            {
                var at = (int)(dataStart + offsets[0] + i * 4);
                Assert.Equal(values[i], BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(at, 4)));
            }
        }
        Assert.Equal(dataStart + 28, bytes.Length); // data section is exactly the tensors, nothing after
    }

    [Fact]
    public void Should_write_a_non_contiguous_view_in_row_major_order()
    {
        var path = dir.File("t.safetensors");
        var m = tensor(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, [2, 3]);
        var transposed = m.t(); // [[1,4],[2,5],[3,6]], a strided view

        SafeTensorsFile.Write(path, [("t", transposed)], new Dictionary<string, string>());

        var read = SafeTensorsFile.Read(path).Tensors.Single();
        Assert.Equal([3L, 2L], read.Shape);
        Assert.Equal(new[] { 1f, 4f, 2f, 5f, 3f, 6f }, read.Data);
    }

    [Fact]
    public void Should_give_tensors_that_do_not_share_memory_with_the_read_content()
    {
        var path = dir.File("t.safetensors");
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f, 2f }))], new Dictionary<string, string>());
        var content = SafeTensorsFile.Read(path);

        var t = content.ToTensor("x");
        content.Tensors[0].Data[0] = 99f;

        Assert.Equal(1f, t[0].item<float>());
    }

    [Fact]
    public void Should_refuse_to_write_tensors_other_than_float32()
    {
        var path = dir.File("d.safetensors");
        var e = Assert.Throws<ArgumentException>(() =>
            SafeTensorsFile.Write(path, [("d", tensor(new[] { 1.0, 2.0 }))], new Dictionary<string, string>()));
        Assert.Contains("Float64", e.Message);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Should_reject_other_dtypes_with_a_clear_message()
    {
        var path = dir.File("f16.safetensors");
        WriteRaw(path, """{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", new byte[4]);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Equal($"{path}: tensor 'h': dtype F16 is not supported (only F32)", e.Message);
    }

    [Fact]
    public void Should_reject_a_file_shorter_than_the_length_field()
    {
        var path = dir.File("short.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.StartsWith($"{path}: too short", e.Message);
    }

    [Fact]
    public void Should_reject_a_header_length_larger_than_the_file()
    {
        var path = dir.File("long.safetensors");
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f }))], new Dictionary<string, string>());
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)bytes.Length);
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Contains("runs past the end of the file", e.Message);
    }

    [Fact]
    public void Should_reject_an_absurd_header_length_without_allocating_it()
    {
        var path = dir.File("huge.safetensors");
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Contains("exceeds", e.Message);
    }

    [Fact]
    public void Should_reject_a_truncated_data_section()
    {
        var path = dir.File("trunc.safetensors");
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f, 2f, 3f }))], new Dictionary<string, string>());
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^4]);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Contains("outside the 8-byte data section", e.Message);
    }

    [Fact]
    public void Should_reject_malformed_json()
    {
        var path = dir.File("json.safetensors");
        WriteRaw(path, """{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]""", new byte[4]);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Contains("header is not valid JSON", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}""", 8, "outside the 8-byte data section")]
    [InlineData("""{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "overlap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "needs a different byte count")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", 8, "gap")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", 8, "data section is 8 bytes but the tensors cover 4")]
    [InlineData("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}""", 4, "data_offsets must be [begin, end]")]
    [InlineData("""{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "negative dimension")]
    [InlineData("""{"__metadata__":{"n":1}}""", 0, "metadata 'n' is not a string")]
    [InlineData("""[1,2]""", 0, "header is not a JSON object")]
    public void Should_reject_inconsistent_headers(string header, int dataBytes, string problem)
    {
        var path = dir.File("bad.safetensors");
        WriteRaw(path, header, new byte[dataBytes]);

        var e = Assert.Throws<CheckpointError>(() => SafeTensorsFile.Read(path));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith(path + ": ", e.Message);
    }

    [Fact]
    public void Should_read_a_file_laid_out_by_hand_per_the_spec()
    {
        // Written the way Python's safetensors writes: tensors not in header order, no metadata.
        var path = dir.File("py.safetensors");
        var data = new byte[12];
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(0), 7f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4), 8f);
        BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(8), 9f);
        WriteRaw(path, """{"second":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},"first":{"dtype":"F32","shape":[1,2],"data_offsets":[0,8]}}""", data);

        var content = SafeTensorsFile.Read(path);

        Assert.Empty(content.Metadata);
        Assert.Equal(["first", "second"], content.Tensors.Select(t => t.Name));
        Assert.Equal(new[] { 7f, 8f }, content.Tensors[0].Data);
        Assert.Equal(new[] { 9f }, content.Tensors[1].Data);
    }

    [Fact]
    public void Should_leave_the_existing_file_intact_when_a_write_fails()
    {
        var path = dir.File("keep.safetensors");
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f }))], SomeMetadata);
        var before = File.ReadAllBytes(path);
        var broken = tensor(new[] { 2f });
        broken.Dispose();

        Assert.ThrowsAny<Exception>(() => SafeTensorsFile.Write(path, [("x", tensor(new[] { 3f })), ("y", broken)], SomeMetadata));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Should_remove_its_temporary_file_when_the_final_rename_fails()
    {
        var path = dir.File("occupied");
        Directory.CreateDirectory(path); // a directory under the target name makes the rename fail

        Assert.ThrowsAny<IOException>(() => SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f }))], SomeMetadata));

        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Should_leave_no_temporary_file_after_a_successful_write()
    {
        var path = dir.File("ok.safetensors");
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 1f }))], SomeMetadata);
        SafeTensorsFile.Write(path, [("x", tensor(new[] { 2f }))], SomeMetadata);

        Assert.Equal([path], Directory.GetFiles(dir.Path));
        Assert.Equal(new[] { 2f }, SafeTensorsFile.Read(path).Tensors[0].Data);
    }

    private static void WriteRaw(string path, string headerJson, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(path, bytes);
    }
}
