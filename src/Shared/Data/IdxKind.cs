namespace VaeCluster.Data;

/// <summary>
/// What a caller expects an IDX file to hold. MNIST uses exactly two layouts, and naming them lets every
/// error say "images" or "labels" instead of "dimension 0".
/// </summary>
internal sealed record IdxKind(string Noun, int Rank)
{
    public const byte UnsignedByte = 0x08;

    public static readonly IdxKind Images = new("images", 3);
    public static readonly IdxKind Labels = new("labels", 1);

    /// <summary>The magic number a well-formed file of this kind starts with: 0x0000, type byte, rank byte.</summary>
    public uint Magic => (uint)(UnsignedByte << 8 | Rank);

    public int HeaderBytes => 4 + 4 * Rank;

    /// <summary>"60000 images of 28x28" or "60000 labels": what the header promised, in the user's words.</summary>
    public string Describe(IReadOnlyList<long> dims) =>
        Rank == 3 ? $"{dims[0]} {Noun} of {dims[1]}x{dims[2]}" : $"{dims[0]} {Noun}";
}
