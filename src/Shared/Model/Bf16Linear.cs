using TorchSharp.Modules;
using static TorchSharp.torch;

namespace VaeCluster.Model;

/// <summary>
/// A linear layer computed as torch.autocast computes it on a CPU with bf16 units: input, weight and bias cast to
/// bfloat16 for the product (libtorch accumulates in float32 inside the kernel), the result cast back to float32.
/// The casts are part of the autograd graph, so the backward products run in bf16 too and the gradients reach the
/// float32 master weights as float32.
/// </summary>
public static class Bf16Linear
{
    public static Tensor Forward(Linear layer, Tensor x)
    {
        using var x16 = x.to_type(ScalarType.BFloat16);
        using var weight16 = layer.weight!.to_type(ScalarType.BFloat16);
        using var bias16 = layer.bias!.to_type(ScalarType.BFloat16);
        using var y16 = nn.functional.linear(x16, weight16, bias16);
        return y16.to_type(ScalarType.Float32);
    }
}
