using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace EdgeCache.Hosting;

/// <summary>
/// A JSON configuration file that reloads when it changes and keeps its last good contents when a
/// change leaves it unreadable (a syntax error, a half-written file, the file gone). The stock JSON
/// provider empties itself in those cases, which would drop every route at once; here the node keeps
/// serving with what it had, and <see cref="ReloadableJsonFileProvider.Refused"/> says why.
/// Whether the new contents are a valid configuration is for the consumers of each section to decide.
/// </summary>
public sealed class ReloadableJsonFileSource : JsonConfigurationSource
{
    public override IConfigurationProvider Build(IConfigurationBuilder builder)
    {
        EnsureDefaults(builder);
        return new ReloadableJsonFileProvider(this);
    }
}

/// <summary>The provider behind <see cref="ReloadableJsonFileSource"/>.</summary>
public sealed class ReloadableJsonFileProvider : JsonConfigurationProvider
{
    private readonly IDisposable? _watch;
    private readonly TimeSpan _delay;

    public ReloadableJsonFileProvider(ReloadableJsonFileSource source)
        : base(Detach(source, out var watch))
    {
        _delay = source.ReloadDelay >= 0 ? TimeSpan.FromMilliseconds(source.ReloadDelay) : TimeSpan.Zero;
        if (watch && source.FileProvider is { } files && source.Path is { } path)
        {
            _watch = ChangeToken.OnChange(() => files.Watch(path), Reload);
        }
    }

    /// <summary>Raised (file path, reason) when a change to the file could not be loaded and the last good contents stay.</summary>
    public event Action<string, string>? Refused;

    /// <summary>The base provider must not watch the file itself: its reload empties the configuration on failure.</summary>
    private static ReloadableJsonFileSource Detach(ReloadableJsonFileSource source, out bool watch)
    {
        watch = source.ReloadOnChange;
        source.ReloadOnChange = false;
        return source;
    }

    private void Reload()
    {
        Thread.Sleep(_delay); // editors write in steps; the stock provider waits the same way
        var path = Source.Path ?? "";
        var file = Source.FileProvider?.GetFileInfo(path);
        string? problem = null;
        if (file is not { Exists: true })
        {
            problem = "the file is missing";
        }
        else
        {
            try
            {
                using var stream = file.CreateReadStream();
                Load(stream); // sets Data only when the whole file parsed
            }
            catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException or System.Text.Json.JsonException or UnauthorizedAccessException)
            {
                problem = ex.Message;
            }
        }

        if (problem is not null)
        {
            Refused?.Invoke(file?.PhysicalPath ?? path, problem);
            return;
        }

        OnReload();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _watch?.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>
/// Follows a configuration's changes for a consumer that validates and applies them: calls
/// <c>reload</c> on every change, and <c>refused</c> when a watched file could not be read (its last
/// good contents stay). Dispose to stop.
/// </summary>
public sealed class ConfigurationWatch : IDisposable
{
    private readonly List<ReloadableJsonFileProvider> _files = [];
    private readonly Action<string, string> _onFileRefused;
    private readonly IDisposable _change;

    public ConfigurationWatch(IConfiguration configuration, Action reload, Action<string> refused)
    {
        _onFileRefused = (path, reason) => refused($"{path} could not be read ({reason}); its last good contents stay in force");
        if (configuration is IConfigurationRoot root)
        {
            foreach (var file in root.Providers.OfType<ReloadableJsonFileProvider>())
            {
                file.Refused += _onFileRefused;
                _files.Add(file);
            }
        }

        _change = ChangeToken.OnChange(configuration.GetReloadToken, reload);
    }

    public void Dispose()
    {
        _change.Dispose();
        foreach (var file in _files) file.Refused -= _onFileRefused;
    }
}

/// <summary>Adds <see cref="ReloadableJsonFileSource"/> to a configuration.</summary>
public static class ReloadableJsonFileExtensions
{
    public static IConfigurationBuilder AddReloadableJsonFile(this IConfigurationBuilder builder, string path)
    {
        var full = Path.GetFullPath(path);
        return builder.Add(new ReloadableJsonFileSource
        {
            FileProvider = new PhysicalFileProvider(Path.GetDirectoryName(full)!),
            Path = Path.GetFileName(full),
            Optional = false,
            ReloadOnChange = true,
        });
    }
}
