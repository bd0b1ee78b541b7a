using EdgeCache.Engine;
using EdgeCache.Proxy.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeCache.Proxy;

/// <summary>The node's cache: tiers, in-flight fetches and the settings they run by. One per node.</summary>
public sealed class CacheEngine
{
    public CacheEngine(IOptions<EdgeCacheOptions> options, CacheClock clock, ILogger<CacheEngine> logger)
    {
        Options = options.Value;
        Time = clock.Time;
        Logger = logger;
        Memory = new MemoryTier(Options.MemoryBudgetBytes, Options.MaxObjectBytes);
        Heuristics = new HeuristicOptions(Options.HeuristicFraction, Options.HeuristicMaxAge);
        ViaToken = "1.1 " + Options.NodeId;
    }

    public EdgeCacheOptions Options { get; }

    public TimeProvider Time { get; }

    public MemoryTier Memory { get; }

    public HeuristicOptions Heuristics { get; }

    internal ILogger Logger { get; }

    internal FlightTable Flights { get; } = new();

    /// <summary>This node's Via entry (RFC 9110 §7.6.3), with its id as pseudonym.</summary>
    internal string ViaToken { get; }

    /// <summary>Invalidates every stored variant of a URL (RFC 9111 §4.4).</summary>
    public int Invalidate(string primaryKey) => Memory.Remove(primaryKey);
}
