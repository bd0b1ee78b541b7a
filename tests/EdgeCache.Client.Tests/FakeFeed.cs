using EdgeCache.Client.Internal;
using Microsoft.Extensions.Caching.Hybrid;

namespace EdgeCache.Client.Tests;

/// <summary>A scripted event feed: each poll is recorded (its <c>after</c>) and answered by the next
/// step of the script (a page, or an exception); the last step repeats.</summary>
internal sealed class FakeFeed(params Func<ulong?, FeedPage>[] script) : IInvalidationFeed
{
    public List<ulong?> Polls { get; } = [];

    public List<TimeSpan> Timeouts { get; } = [];

    public int Leaves { get; private set; }

    public Task<FeedPage> PollAsync(ulong? after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Polls.Add(after);
        Timeouts.Add(timeout);
        return Task.FromResult(script[Math.Min(Polls.Count - 1, script.Length - 1)](after));
    }

    public Task LeaveAsync(CancellationToken cancellationToken)
    {
        Leaves++;
        return Task.CompletedTask;
    }

    public static FeedEvent Tags(ulong seq, params string[] tags) => new() { Sequence = seq, Id = "p" + seq, Tags = tags };
}

/// <summary>A HybridCache that records what the backplane asks of it; removing the tag <c>boom</c> throws.</summary>
internal sealed class RecordingHybridCache : HybridCache
{
    public List<string> RemovedTags { get; } = [];

    public List<string> RemovedKeys { get; } = [];

    public List<HybridCacheEntryOptions?> Options { get; } = [];

    public override ValueTask<T> GetOrCreateAsync<TState, T>(string key, TState state, Func<TState, CancellationToken, ValueTask<T>> factory, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        Options.Add(options);
        return factory(state, cancellationToken);
    }

    public override ValueTask SetAsync<T>(string key, T value, HybridCacheEntryOptions? options = null, IEnumerable<string>? tags = null, CancellationToken cancellationToken = default)
    {
        Options.Add(options);
        return ValueTask.CompletedTask;
    }

    public override ValueTask RemoveAsync(string key, CancellationToken cancellationToken = default)
    {
        RemovedKeys.Add(key);
        return ValueTask.CompletedTask;
    }

    public override ValueTask RemoveByTagAsync(string tag, CancellationToken cancellationToken = default)
    {
        if (tag == "boom") throw new InvalidOperationException("the L2 is down");
        RemovedTags.Add(tag);
        return ValueTask.CompletedTask;
    }
}
