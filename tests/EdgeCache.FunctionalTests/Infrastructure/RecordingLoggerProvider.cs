using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace EdgeCache.FunctionalTests.Infrastructure;

/// <summary>One log event a node wrote.</summary>
public sealed record LoggedEvent(string Category, LogLevel Level, int EventId, string Message);

/// <summary>Keeps every event of Information and above that a node logs, for tests that assert on event ids.</summary>
public sealed class RecordingLoggerProvider : ILoggerProvider
{
    private readonly ConcurrentQueue<LoggedEvent> _events = new();

    public IReadOnlyList<LoggedEvent> Events => [.. _events];

    public IEnumerable<LoggedEvent> WithId(int eventId) => Events.Where(e => e.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, _events);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<LoggedEvent> events) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) events.Enqueue(new LoggedEvent(category, logLevel, eventId.Id, formatter(state, exception)));
        }
    }
}
