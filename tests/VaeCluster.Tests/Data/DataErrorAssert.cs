using VaeCluster.Data;
using Xunit;

namespace VaeCluster.Tests.Data;

internal static class DataErrorAssert
{
    /// <summary>
    /// The CLI shows only the message, so it must name the file and the specific problem; checking just the
    /// exception type would let a vague "invalid file" slip through.
    /// </summary>
    public static DataError Throws(string file, string problem, Action act)
    {
        var error = Assert.Throws<DataError>(act);
        Assert.Equal(file, error.File);
        Assert.Contains(problem, error.Problem);
        Assert.Equal($"{file}: {error.Problem}", error.Message);
        Assert.DoesNotContain('\n', error.Message);
        return error;
    }
}
