namespace VaeCluster.Data;

/// <summary>The contents of one IDX file: its dimensions (count first) and the unsigned bytes in row-major order.</summary>
public sealed record IdxArray(int[] Dims, byte[] Data)
{
    public int Count => Dims[0];
}
