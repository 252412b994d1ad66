using System.IO.Compression;
using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.Data;

public sealed class IdxFileTests : IDisposable
{
    private const byte UnsignedByte = 0x08;
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    [Theory]
    [InlineData("images-idx3-ubyte")]
    [InlineData("images-idx3-ubyte.gz")]
    public void Should_read_back_the_images_it_wrote(string name)
    {
        var pixels = TempDir.Pixels(3);
        string path = dir.File(name);

        IdxFile.WriteImages(path, pixels, 3);
        var read = IdxFile.ReadImages(path);

        Assert.Equal([3, 28, 28], read.Dims);
        Assert.Equal(3, read.Count);
        Assert.Equal(pixels, read.Data);
    }

    [Theory]
    [InlineData("labels-idx1-ubyte")]
    [InlineData("labels-idx1-ubyte.gz")]
    public void Should_read_back_the_labels_it_wrote(string name)
    {
        byte[] labels = [0, 9, 3, 3, 7];
        string path = dir.File(name);

        IdxFile.WriteLabels(path, labels);
        var read = IdxFile.ReadLabels(path);

        Assert.Equal([5], read.Dims);
        Assert.Equal(labels, read.Data);
    }

    [Fact]
    public void Should_write_the_standard_mnist_header()
    {
        string path = dir.File("labels");
        IdxFile.WriteLabels(path, [1, 2]);

        // 0x00000801 then count 2, as in the original train-labels-idx1-ubyte.
        Assert.Equal(new byte[] { 0, 0, 8, 1, 0, 0, 0, 2, 1, 2 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void Should_really_compress_when_the_name_ends_in_gz()
    {
        string path = dir.File("labels.gz");
        IdxFile.WriteLabels(path, [4]);

        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var inflated = new MemoryStream();
        gzip.CopyTo(inflated);
        Assert.Equal(new byte[] { 0, 0, 8, 1, 0, 0, 0, 1, 4 }, inflated.ToArray());
    }

    [Fact]
    public void Should_leave_no_temporary_file_after_writing()
    {
        IdxFile.WriteImages(dir.File("images"), TempDir.Pixels(1), 1);

        Assert.Equal(["images"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Should_replace_an_existing_file_when_writing()
    {
        string path = dir.File("labels");
        IdxFile.WriteLabels(path, [1, 2, 3]);
        IdxFile.WriteLabels(path, [5]);

        Assert.Equal([5], IdxFile.ReadLabels(path).Data);
    }

    [Fact]
    public void Should_refuse_to_write_pixels_that_do_not_match_the_count()
    {
        var error = Assert.Throws<ArgumentException>(() => IdxFile.WriteImages(dir.File("images"), new byte[784], 2));
        Assert.Contains("1568", error.Message);
        Assert.False(File.Exists(dir.File("images")));
    }

    [Fact]
    public void Should_refuse_to_write_a_label_that_is_not_a_digit()
    {
        Assert.Throws<ArgumentException>(() => IdxFile.WriteLabels(dir.File("labels"), [3, 10]));
        Assert.False(File.Exists(dir.File("labels")));
    }

    [Fact]
    public void Should_reject_missing_file()
    {
        string path = dir.File("nope-idx3-ubyte");
        DataErrorAssert.Throws(path, "file not found", () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_empty_file()
    {
        string path = dir.File("empty");
        File.WriteAllBytes(path, []);
        DataErrorAssert.Throws(path, "empty file (0 bytes): not an IDX file", () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_file_too_short_for_a_header()
    {
        string path = dir.File("stub");
        File.WriteAllBytes(path, [0, 0, 8]);
        DataErrorAssert.Throws(path, "truncated: found 3 bytes, too short for the 4-byte IDX header",
            () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_header_cut_off_inside_the_dimensions()
    {
        string path = dir.File("cut");
        File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0, 1, 0, 0]);
        DataErrorAssert.Throws(path, "truncated: a header with 3 dimensions needs 16 bytes, found 10 bytes",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_wrong_magic_number()
    {
        // A PNG renamed to look like MNIST: the classic wrong-download case.
        string path = dir.File("picture");
        File.WriteAllBytes(path, [0x89, (byte)'P', (byte)'N', (byte)'G', 0, 0, 0, 0]);
        DataErrorAssert.Throws(path,
            "wrong magic number 0x89504E47: not an IDX file (expected 0x00000803 for images)",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_name_the_labels_magic_number_when_reading_labels()
    {
        string path = dir.WriteRaw("labels", UnsignedByte, [1], 1, magicHigh: 0x12);
        DataErrorAssert.Throws(path, "(expected 0x00000801 for labels)", () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_float_element_type()
    {
        string path = dir.WriteRaw("floats", 0x0D, [1, 28, 28], 4 * 784);
        DataErrorAssert.Throws(path,
            "unsupported element type 0x0D (float32): MNIST images must be 0x08 (unsigned byte)",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_labels_file_read_as_images()
    {
        string path = dir.WriteRaw("train-labels-idx1-ubyte", UnsignedByte, [5], 5);
        DataErrorAssert.Throws(path,
            "wrong number of dimensions: found 1, expected 3 for images ([count, 28, 28])",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_images_file_read_as_labels()
    {
        string path = dir.WriteRaw("images", UnsignedByte, [1, 28, 28], 784);
        DataErrorAssert.Throws(path, "wrong number of dimensions: found 3, expected 1 for labels ([count])",
            () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_images_that_are_not_28x28()
    {
        string path = dir.WriteRaw("big", UnsignedByte, [2, 32, 32], 2 * 32 * 32);
        DataErrorAssert.Throws(path, "wrong image size 32x32: MNIST images are 28x28", () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_zero_image_count()
    {
        string path = dir.WriteRaw("none", UnsignedByte, [0, 28, 28], 0);
        DataErrorAssert.Throws(path, "no images: the header declares a count of 0", () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_zero_label_count()
    {
        string path = dir.WriteRaw("none", UnsignedByte, [0], 0);
        DataErrorAssert.Throws(path, "no labels: the header declares a count of 0", () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_truncated_image_file()
    {
        // 16-byte header + 984 pixels: a download cut off part-way through the first two images.
        string path = dir.WriteRaw("cut-off", UnsignedByte, [2, 28, 28], 984);
        DataErrorAssert.Throws(path, "truncated: expected 1584 bytes (2 images of 28x28), found 1000 bytes",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_truncated_gzipped_image_file()
    {
        string whole = dir.File("whole.gz");
        IdxFile.WriteImages(whole, TempDir.Pixels(2), 2);
        var inflated = Inflate(whole);
        string path = dir.File("cut-off.gz");
        using (var gzip = new GZipStream(File.Create(path), CompressionLevel.Fastest))
            gzip.Write(inflated.AsSpan(0, 1000));

        DataErrorAssert.Throws(path,
            "truncated: expected 1584 bytes (2 images of 28x28), found 1000 bytes after decompressing",
            () => IdxFile.ReadImages(path));
    }

    [Fact]
    public void Should_reject_trailing_bytes_after_the_labels()
    {
        string path = dir.File("labels");
        IdxFile.WriteLabels(path, [1, 2, 3]);
        File.AppendAllText(path, "<html>");

        DataErrorAssert.Throws(path, "trailing bytes: expected 11 bytes (3 labels), found 17 bytes",
            () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_label_greater_than_9()
    {
        string path = dir.WriteRaw("labels", UnsignedByte, [4], 4, fill: 12);
        DataErrorAssert.Throws(path, "label 12 at index 0 is out of range: MNIST labels are digits 0-9",
            () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_gz_file_that_is_not_gzip()
    {
        // Uncompressed data under a .gz name: what a manual "gunzip -k" followed by a rename produces.
        string path = dir.File("labels.gz");
        File.WriteAllBytes(path, [0, 0, 8, 1, 0, 0, 0, 1, 4]);
        DataErrorAssert.Throws(path, "not a valid gzip file", () => IdxFile.ReadLabels(path));
    }

    [Fact]
    public void Should_reject_a_directory_given_as_a_file()
    {
        DataErrorAssert.Throws(dir.Path, "is a directory", () => IdxFile.ReadImages(dir.Path));
    }

    private static byte[] Inflate(string path)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var inflated = new MemoryStream();
        gzip.CopyTo(inflated);
        return inflated.ToArray();
    }
}
