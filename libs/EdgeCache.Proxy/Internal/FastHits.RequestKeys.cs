using System.Text;
using EdgeCache.Engine;

namespace EdgeCache.Proxy.Internal;

internal sealed partial class FastHits
{
    /// <summary>
    /// Recently seen (Host, target) byte strings and the key strings built from them, so a hot URL's
    /// hit allocates nothing: a direct-mapped table indexed by a hash of the bytes, compared byte for
    /// byte, and valid only under the host policies it was built with (it holds its host's policy).
    /// </summary>
    /// <param name="scheme">The scheme the requests came with (http, or https over TLS), part of every key.</param>
    internal sealed class RequestKeys(string scheme = "http")
    {
        private const int Slots = 4096;
        private readonly Entry?[] _slots = new Entry?[Slots];

        public sealed class Entry(byte[] raw, int hostLength, string host, string hostName, string target, string key, HostCachePolicy policy, object policies, ImageParse image = ImageParse.NotImage, bool imageAuto = false)
        {
            public string Host { get; } = host;

            public string HostName { get; } = hostName;

            public string Target { get; } = target;

            public string Key { get; } = key;

            /// <summary>The host's caching policy under <see cref="Policies"/>.</summary>
            public HostCachePolicy Policy { get; } = policy;

            public object Policies { get; } = policies;

            /// <summary>Whether the target is an image variant's URL (<see cref="ImageRequest.TryParse"/>, as the full path
            /// parses it): its <see cref="Key"/> is then the variant's canonical key; an invalid one is the full path's 400.</summary>
            public ImageParse Image { get; } = image;

            /// <summary>An image variant with <c>format=auto</c>: selected by the request's negotiated Accept.</summary>
            public bool ImageAuto { get; } = imageAuto;

            public bool Matches(ReadOnlySpan<byte> hostBytes, ReadOnlySpan<byte> targetBytes) =>
                hostLength == hostBytes.Length && raw.Length == hostBytes.Length + targetBytes.Length
                && raw.AsSpan(0, hostLength).SequenceEqual(hostBytes) && raw.AsSpan(hostLength).SequenceEqual(targetBytes);
        }

        public Entry Get(CacheEngine engine, ReadOnlySpan<byte> hostBytes, ReadOnlySpan<byte> targetBytes)
        {
            var hash = new HashCode();
            hash.AddBytes(hostBytes);
            hash.AddBytes(targetBytes);
            ref var slot = ref _slots[(uint)hash.ToHashCode() % Slots];
            var policies = engine.HostPolicies.Version;
            if (Volatile.Read(ref slot) is { } known && ReferenceEquals(known.Policies, policies) && known.Matches(hostBytes, targetBytes)) return known;

            var host = Encoding.ASCII.GetString(hostBytes);
            var colon = host.IndexOf(':');
            var hostName = colon < 0 ? host : host[..colon];
            var target = Encoding.ASCII.GetString(targetBytes);
            var policy = engine.HostPolicies.For(host);
            string key;
            var image = ImageParse.NotImage;
            ImageRequest? variant = null;
            if (policy.Images.Enabled) image = ImageRequest.TryParse(target, policy.Images, out variant, out _);

            // An image variant is keyed as the full path keys it: by its options' one spelling.
            key = CacheKey.Build(scheme, host, variant?.CanonicalPathAndQuery ?? target, policy);
            var entry = new Entry([.. hostBytes, .. targetBytes], hostBytes.Length, host, hostName, target, key, policy, policies, image, variant?.Auto == true);
            Volatile.Write(ref slot, entry);
            return entry;
        }
    }
}
