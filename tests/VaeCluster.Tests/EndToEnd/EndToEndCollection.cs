using Xunit;

namespace VaeCluster.Tests.EndToEnd;

/// <summary>Tests that train in child processes run one at a time: on a 2-core machine, side by side they only slow each other.</summary>
[CollectionDefinition(Name)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end training";
}
