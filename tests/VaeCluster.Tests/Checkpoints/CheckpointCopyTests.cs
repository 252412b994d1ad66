using VaeCluster.Checkpoints;
using Xunit;

namespace VaeCluster.Tests.Checkpoints;

/// <summary>A checkpoint written in the background is a copy: training may change the originals meanwhile.</summary>
public sealed class CheckpointCopyTests
{
    [Fact]
    public void Should_keep_the_values_of_the_moment_it_was_taken_whatever_happens_to_the_originals()
    {
        var original = CheckpointSamples.Make(globalStep: 200);
        var before = original.Parameters.Concat(original.Optimizer.ExpAvg).Concat(original.Optimizer.ExpAvgSq)
            .Select(p => CheckpointSamples.Bits(p.Tensor)).ToList();

        var copy = original.WithOwnTensors();
        foreach (var (_, t) in original.Parameters.Concat(original.Optimizer.ExpAvg).Concat(original.Optimizer.ExpAvgSq))
            t.add_(1f); // the next steps
        original.DisposeTensors();

        var after = copy.Parameters.Concat(copy.Optimizer.ExpAvg).Concat(copy.Optimizer.ExpAvgSq)
            .Select(p => CheckpointSamples.Bits(p.Tensor)).ToList();
        Assert.Equal(before, after);
        Assert.Equal(original.Cursor, copy.Cursor);
        Assert.Equal(original.Parameters.Select(p => p.Name), copy.Parameters.Select(p => p.Name));
        copy.DisposeTensors();
    }
}
