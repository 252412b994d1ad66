using VaeCluster.Protocol;
using static TorchSharp.torch;

namespace VaeCluster.DataPlane;

/// <summary>
/// How a Round or RoundResult travels over TCP. Its parameters (or change) go as --wire says; a frame that also
/// carries inner Adam moments goes as float32, for the moments must come back exact for a resume, with the
/// parameters rounded first to what the wire would have carried, so that a node computes the same either way.
/// </summary>
internal static class RoundPayload
{
    public static void Send(FrameChannel channel, IWireMessage header, IReadOnlyList<Tensor> values, InnerOptimizerState? inner, PayloadCodec codec)
    {
        if (inner is null)
        {
            channel.Send(header, values, codec);
            return;
        }
        using var scope = NewDisposeScope();
        var rounded = codec == PayloadCodec.Fp32 ? values : values.Select(codec.Rounded).ToList();
        channel.Send(header, [.. rounded, .. RoundTensors.Moments(inner)], PayloadCodec.Fp32);
    }

    /// <summary>The encoding a round frame's payload comes in, from its header: float32 whenever it carries moments.</summary>
    public static PayloadCodec Of(bool carriesInner, PayloadCodec codec) => carriesInner ? PayloadCodec.Fp32 : codec;
}
