using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EdgeCache.Storage.Tests;

/// <summary>A logger that keeps what the store logs, so tests can assert on the events.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly ConcurrentQueue<(int Id, LogLevel Level, string Message)> _entries = new();

    public int Count(int eventId) => _entries.Count(e => e.Id == eventId);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _entries.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
}
