namespace VaeCluster.DataPlane;

/// <summary>
/// How parameters and gradients travel over a TCP data-plane link (--wire). The coordinator chooses and announces
/// it; its master weights and gradient sums stay float32 either way. Shared memory always carries float32.
/// </summary>
public enum WirePrecision
{
    /// <summary>float32, exactly the values the coordinator and the workers hold (the default).</summary>
    Fp32,

    /// <summary>bfloat16 (float32 rounded to nearest even, 8 bits of mantissa): half the bytes.</summary>
    Bf16,
}

public static class WirePrecisionName
{
    /// <summary>What --wire takes and what logs say: fp32, bf16.</summary>
    public static string Of(WirePrecision precision) => precision switch
    {
        WirePrecision.Fp32 => "fp32",
        WirePrecision.Bf16 => "bf16",
        _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, null),
    };

    public static bool TryParse(string text, out WirePrecision precision)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "fp32": precision = WirePrecision.Fp32; return true;
            case "bf16": precision = WirePrecision.Bf16; return true;
            default: precision = default; return false;
        }
    }
}
