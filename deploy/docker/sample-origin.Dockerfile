# syntax=docker/dockerfile:1
# The sample origin (loadtest/EdgeCache.SampleOrigin) for demos and load tests.
# Build from the repository root: docker build -f deploy/docker/sample-origin.Dockerfile -t edgecache/sample-origin .
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY loadtest/Shared/ loadtest/Shared/
COPY loadtest/EdgeCache.SampleOrigin/ loadtest/EdgeCache.SampleOrigin/
RUN dotnet publish loadtest/EdgeCache.SampleOrigin/EdgeCache.SampleOrigin.csproj -c Release -o /app --nologo

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
ENV ASPNETCORE_URLS=http://0.0.0.0:8000
USER app
EXPOSE 8000
ENTRYPOINT ["dotnet", "EdgeCache.SampleOrigin.dll"]
