using EdgeCache.Nats;

namespace EdgeCache.Proxy.Tests;

public sealed class InvalidationOptionsTests
{
    private static InvalidationOptions Valid() => new() { NatsUrl = "nats://127.0.0.1:4222" };

    [Fact]
    public void The_defaults_are_valid_and_keep_a_lost_pull_request_to_a_second()
    {
        var options = Valid();
        Assert.Null(options.Validate());
        Assert.Equal(TimeSpan.FromSeconds(0.5), options.ConsumerHeartbeat);
        Assert.Equal(TimeSpan.FromMinutes(2), options.ConsumerPullExpires);
    }

    [Theory]
    [InlineData("00:00:00.400", "00:02:00", "ConsumerHeartbeat must be between 0.5 s and 30 s")]
    [InlineData("00:00:31", "00:02:00", "ConsumerHeartbeat must be between 0.5 s and 30 s")]
    [InlineData("00:00:01", "00:00:01.500", "ConsumerPullExpires must be at least twice ConsumerHeartbeat")]
    public void Heartbeats_outside_the_nats_clients_limits_or_longer_than_half_a_pull_request_are_refused(string heartbeat, string expires, string expected)
    {
        var options = Valid();
        options.ConsumerHeartbeat = TimeSpan.Parse(heartbeat, System.Globalization.CultureInfo.InvariantCulture);
        options.ConsumerPullExpires = TimeSpan.Parse(expires, System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith(expected, options.Validate(), StringComparison.Ordinal);
    }
}
