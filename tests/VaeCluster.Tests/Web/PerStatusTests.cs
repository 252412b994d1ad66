using VaeCluster.Coordinator.Monitoring;
using VaeCluster.Coordinator.Web;
using Xunit;

namespace VaeCluster.Tests.Web;

public sealed class PerStatusTests
{
    [Fact]
    public void Makes_each_published_status_text_once_however_often_it_is_read()
    {
        var board = new RunStatusBoard(RunStatus.Starting(epochs: 2, stepsPerEpoch: 10));
        int made = 0;
        var text = new PerStatus(board, s => $"{s.Phase} #{++made}");

        Assert.Equal("starting #1", text.Current);
        Assert.Equal("starting #1", text.Current);
        Assert.Equal("starting #1", text.Of(board.Current));

        board.Publish(board.Current with { Phase = "training" });
        Assert.Equal("training #2", text.Current);
        Assert.Equal("training #2", text.Current);

        // An equal status that is a new object is a new publication: it is made afresh, not mistaken for the old one.
        board.Publish(board.Current with { });
        Assert.Equal("training #3", text.Current);
        Assert.Equal(3, made);
    }
}
