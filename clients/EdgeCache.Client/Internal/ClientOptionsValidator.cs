using Microsoft.Extensions.Options;

namespace EdgeCache.Client.Internal;

/// <summary>Runs <see cref="EdgeCacheClientOptions.Validate"/> at start-up, naming settings under the section they came from.</summary>
internal sealed class ClientOptionsValidator(string section) : IValidateOptions<EdgeCacheClientOptions>
{
    public ValidateOptionsResult Validate(string? name, EdgeCacheClientOptions options)
    {
        var errors = options.Validate(section).ToList();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
