using SkiaSharp;

namespace VaeCluster.Imaging;

/// <summary>Draws 28x28 digits (pixel values in [0, 1]) as a grid and saves it as a PNG, atomically.</summary>
public static class DigitGrid
{
    public const int Side = 28;
    private const int Gap = 2;

    /// <param name="pixels">digits one after another, 784 values each, row-major</param>
    public static void SavePng(string path, ReadOnlySpan<float> pixels, int columns, int scale = 2)
    {
        int digits = pixels.Length / (Side * Side);
        if (digits == 0 || pixels.Length % (Side * Side) != 0)
            throw new ArgumentException("pixels must hold whole 28x28 digits", nameof(pixels));
        columns = Math.Clamp(columns, 1, digits);
        int rows = (digits + columns - 1) / columns;
        int cell = Side * scale + Gap;
        int width = columns * cell + Gap, height = rows * cell + Gap;

        var gray = new byte[width * height];
        Array.Fill(gray, (byte)40); // a dark gutter so the digits' edges stay visible
        for (int d = 0; d < digits; d++)
        {
            int left = Gap + d % columns * cell, top = Gap + d / columns * cell;
            for (int y = 0; y < Side * scale; y++)
            for (int x = 0; x < Side * scale; x++)
            {
                float v = pixels[d * Side * Side + y / scale * Side + x / scale];
                gray[(top + y) * width + left + x] = (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f);
            }
        }

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        System.Runtime.InteropServices.Marshal.Copy(gray, 0, bitmap.GetPixels(), gray.Length);
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        AtomicFile.Write(path, stream => png.SaveTo(stream));
    }
}
