using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// End-to-end runs of the commands that neither kill nodes nor wait on deadlines: one at a time among themselves,
/// beside the fault tests (EndToEndCollection), whose runs spend much of their time waiting for nodes to start,
/// join, be noticed dead and be replaced, which leaves a core to these.
/// </summary>
[CollectionDefinition(Name)]
public sealed class CommandEndToEndCollection
{
    public const string Name = "end-to-end commands";
}
