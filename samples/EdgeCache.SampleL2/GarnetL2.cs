using Garnet;

namespace EdgeCache.SampleL2;

/// <summary>
/// Garnet, hosted as a library: a Redis-compatible store that the sample publisher's instances share as
/// HybridCache's L2 (<c>Microsoft.Extensions.Caching.StackExchangeRedis</c>). In memory only: a restart
/// empties it, which costs the app's instances database reads, never a wrong answer.
/// </summary>
public static class GarnetL2
{
    /// <summary>The address the local CDN gives it (<c>SamplePublisher:L2</c> in up.sh).</summary>
    public const string DefaultEndpoint = "127.0.0.1:6380";

    /// <summary>Loopback only, port 6380 (not Redis's 6379, which a developer's own Redis may hold), 256 MiB of
    /// log memory and a 16 MiB index: plenty for the sample's product lookups.</summary>
    public static readonly string[] Defaults = ["--bind", "127.0.0.1", "--port", "6380", "--memory", "256m", "--index", "16m"];

    /// <summary>Starts a Garnet server with <paramref name="args"/> (Garnet's own options), or <see cref="Defaults"/>
    /// when there are none. Dispose it to stop.</summary>
    public static GarnetServer Start(string[] args)
    {
        var server = new GarnetServer(args.Length == 0 ? Defaults : args);
        server.Start();
        return server;
    }
}
