using VaeCluster.DataPlane;
using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.DataPlane;

/// <summary>
/// --wire bf16 on the coordinator's side: each gradient is rounded once, on the wire, and widened to float32 as it
/// arrives, so the shards are added in float32 (as GradientCombiner adds every gradient), never in bfloat16.
/// </summary>
public sealed class Bf16GradientSumTests : IDisposable
{
    private static readonly IReadOnlyList<TensorLayout> Layout = [new("w", [3])];
    private readonly LoopbackPair pair = new();
    private readonly TcpTransportToNode node;
    private readonly TcpTransportToCoordinator worker;
    private readonly Tensor parameters = zeros(3);

    public Bf16GradientSumTests()
    {
        var coordinatorEnd = new FrameChannel(pair.Left);
        var nodeEnd = new FrameChannel(pair.Right);
        coordinatorEnd.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        nodeEnd.SetReceiveTimeout(TimeSpan.FromSeconds(5));
        node = new TcpTransportToNode(coordinatorEnd, Layout, PayloadCodec.Bf16, new SendTurns());
        worker = new TcpTransportToCoordinator(nodeEnd, [("w", parameters)], PayloadCodec.Bf16);
    }

    [Fact]
    public void Bf16_gradients_are_summed_in_fp32()
    {
        // 256 + 1 + 1 + 1 + 1: in float32 260; added up in bfloat16 (8 bits of precision) each +1 would be lost
        // (257 is a tie that rounds back to 256). The third value is not a bfloat16: the wire rounds it to 1.
        float[][] shards = [[256, 3, 1.00390625f], [1, 1, 1], [1, 1, 1], [1, 1, 1], [1, -1, 1]];
        var received = new List<IReadOnlyList<Tensor>>();
        for (int s = 0; s < shards.Length; s++)
        {
            node.SendShard(new ShardFrame(0, s, 1, [s], [0f]), [ones(3)]);
            worker.Receive();
            worker.SendGradient(new GradientFrame(0, s, 1, LossSum: 1, ComputeMicros: 0), [tensor(shards[s])]);
            var answer = Assert.IsType<GradientAnswer>(node.Receive(_ => { }));
            Assert.Equal(ScalarType.Float32, answer.Gradient.Tensors[0].dtype);
            received.Add(answer.Gradient.Tensors);
        }
        var (sum, finite) = GradientCombiner.SumInOrder(received);
        Assert.True(finite);
        Assert.Equal([260f, 5f, 5f], sum[0].data<float>().ToArray());
        foreach (var gradient in received) foreach (var t in gradient) t.Dispose();
    }

    public void Dispose()
    {
        node.Dispose();
        worker.Dispose();
        pair.Dispose();
        parameters.Dispose();
    }
}
