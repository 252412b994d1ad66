using VaeCluster.Training;
using Xunit;
using static TorchSharp.torch;

namespace VaeCluster.Tests.Training;

public sealed class OuterNesterovTests
{
    [Fact]
    public void Should_step_as_torch_sgd_with_nesterov_momentum_does_on_the_averaged_change()
    {
        using var p = tensor(new float[] { 1f, 2f });
        using var outer = new OuterNesterov([("p", p)], learningRate: 0.7, momentum: 0.9);
        using var first = tensor(new float[] { 0.5f, -1f });
        using var second = tensor(new float[] { 0.1f, 0.2f });

        outer.Apply([first]); // buf = c1; p -= 0.7 (c1 + 0.9 c1)
        Assert.Equal([0.335f, 3.33f], p.data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
        outer.Apply([second]); // buf = 0.9 c1 + c2 = [0.55, -0.7]; p -= 0.7 (c2 + 0.9 buf)
        Assert.Equal([-0.0815f, 3.631f], p.data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
        Assert.Equal([0.55f, -0.7f], outer.Momentum[0].data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
    }
}
