using Spectre.Console;
using VaeCluster.Coordinator.Monitoring;
using Xunit;

namespace VaeCluster.Tests.Monitoring;

/// <summary>The live display's lines: what they say, and that they never wrap on the terminal.</summary>
public sealed class ProgressLinesTests
{
    private static readonly ProgressSnapshot Snapshot = new(Epoch: 2, Epochs: 10, StepsDone: 235, StepsPerEpoch: 469, Loss: 114.2123,
        SamplesPerSecond: 25312.4, StepsPerSecond: 200, Workers: 2, ReassignedShards: 1);

    [Theory]
    [InlineData(80)]
    [InlineData(120)]
    [InlineData(250)]
    public void Should_say_where_the_run_is_and_how_it_goes_within_the_width(int width)
    {
        var (position, health) = ProgressLines.Format(Snapshot, width);
        var (plainPosition, plainHealth) = (Markup.Remove(position), Markup.Remove(health));

        Assert.StartsWith("epoch 2/10  step 235/469  ━", plainPosition);
        Assert.EndsWith(" 15%  00:00:19 left", plainPosition); // (469 + 235) of 4690 steps; 3986 left at 200 a second
        Assert.Equal("loss 114.21  25,312 samples/s  2 workers  1 shards reassigned", plainHealth);
        Assert.True(plainPosition.Length < width, $"{plainPosition.Length} columns");
    }

    [Fact]
    public void Should_wrap_and_pad_lines_printed_above_the_display_to_cover_whole_rows()
    {
        var text = ProgressLines.Above(new string('a', 45) + "\nshort\n", width: 21);

        Assert.Equal(string.Concat(new string('a', 20), "\n", new string('a', 20), "\n", "aaaaa".PadRight(20), "\n", "short".PadRight(20), "\n"), text);
    }
}
