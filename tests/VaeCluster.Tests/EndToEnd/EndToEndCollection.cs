using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>
/// Tests that kill, cut off and replace nodes, or that time them, run one at a time: on a 2-core machine, side by
/// side they only slow each other and stretch the deadlines they check. Other end-to-end runs go beside them
/// (CommandEndToEndCollection).
/// </summary>
[CollectionDefinition(Name)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end training";
}
