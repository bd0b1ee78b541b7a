using EdgeCache.Engine;

namespace EdgeCache.Engine.Tests;

public class SmokeTests
{
    [Fact]
    public void Parses_max_age() => Assert.Equal(60, CacheDirectives.Parse("max-age=60").MaxAge);
}
