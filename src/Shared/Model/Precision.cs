namespace VaeCluster.Model;

/// <summary>
/// The number format of the model's wide matrix products (docs/BENCHMARKS.md, issue 17). Parameters, gradients, Adam
/// and the loss are fp32 either way. Written in config JSON as snake_case ("fp32", "bf16").
/// </summary>
public enum Precision
{
    /// <summary>Everything in float32: the PyTorch reference's maths, bit for bit where the run is deterministic.</summary>
    Fp32,

    /// <summary>The layers that meet the image (fc1, fc4) multiply in bfloat16 with float32 accumulation, as autocast does.</summary>
    Bf16,
}

/// <summary>The names users type for a <see cref="Precision"/>: "fp32", "bf16".</summary>
public static class PrecisionName
{
    public static string Of(Precision precision) => precision.ToString().ToLowerInvariant();

    public static bool TryParse(string text, out Precision precision)
    {
        foreach (var p in Enum.GetValues<Precision>())
        {
            if (string.Equals(Of(p), text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                precision = p;
                return true;
            }
        }
        precision = default;
        return false;
    }
}
