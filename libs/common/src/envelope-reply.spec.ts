import { Controller, Get, type INestApplication, StreamableFile } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { ConsolePost, RawResponse } from './decorators';
import { ok, okMessage, ResponseCode } from './envelope';
import { enveloped, EnvelopeExpressAdapter, RouteEnvelopeGuard } from './envelope-reply';

@Controller()
class SampleController {
  @Get('object')
  object() {
    return { a: 1 };
  }

  @Get('nothing')
  nothing() {
    return undefined;
  }

  @ConsolePost('saved', 'Saved')
  saved() {
    return { id: 'x' };
  }

  @ConsolePost('own-message', 'Saved')
  ownMessage() {
    return ok({ id: 'y' }, 'Renamed');
  }

  @ConsolePost('bare-envelope', 'Deleted')
  bareEnvelope() {
    return ok({});
  }

  @RawResponse()
  @Get('raw')
  raw() {
    return { object: 'list', data: [] };
  }

  @Get('file')
  file() {
    return new StreamableFile(Buffer.from('PNG'), { type: 'image/png' });
  }

  @Get('boom')
  boom() {
    throw new Error('boom');
  }
}

describe('enveloped', () => {
  it('wraps plain values, keeps envelopes, and gives a message-less envelope the route message', () => {
    expect(enveloped([1], '')).toEqual({ code: 'success', message: '', data: [1] });
    expect(enveloped(undefined, 'Done')).toEqual({ code: 'success', message: 'Done', data: {} });
    expect(enveloped(null, '')).toEqual({ code: 'success', message: '', data: {} });
    const own = okMessage('Mine');
    expect(enveloped(own, 'Route')).toBe(own);
    expect(enveloped(ok({ x: 1 }), 'Route')).toEqual({
      code: ResponseCode.SUCCESS,
      message: 'Route',
      data: { x: 1 },
    });
    // A plain object shaped like an envelope is data, not an envelope.
    expect(enveloped({ code: 'fail', message: 'x', data: 1 }, '')).toEqual({
      code: 'success',
      message: '',
      data: { code: 'fail', message: 'x', data: 1 },
    });
  });
});

describe('RouteEnvelopeGuard + EnvelopeExpressAdapter', () => {
  let app: INestApplication;
  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      controllers: [SampleController],
      providers: [{ provide: APP_GUARD, useClass: RouteEnvelopeGuard }],
    }).compile();
    app = moduleRef.createNestApplication(new EnvelopeExpressAdapter(), { logger: false });
    await app.init();
  });
  afterAll(() => app.close());
  const http = () => request(app.getHttpServer());

  it('envelopes what handlers return, with the route success message', async () => {
    expect((await http().get('/object')).body).toEqual({
      code: 'success',
      message: '',
      data: { a: 1 },
    });
    expect((await http().get('/nothing')).body).toEqual({ code: 'success', message: '', data: {} });
    const saved = await http().post('/saved');
    expect(saved.status).toBe(200);
    expect(saved.body).toEqual({ code: 'success', message: 'Saved', data: { id: 'x' } });
    expect((await http().post('/own-message')).body).toMatchObject({ message: 'Renamed' });
    expect((await http().post('/bare-envelope')).body).toEqual({
      code: 'success',
      message: 'Deleted',
      data: {},
    });
  });

  it('leaves raw routes, files and error answers as they are', async () => {
    expect((await http().get('/raw')).body).toEqual({ object: 'list', data: [] });
    const file = await http().get('/file');
    expect(file.headers['content-type']).toBe('image/png');
    expect(Buffer.from(file.body as Buffer).toString()).toBe('PNG');
    // Nest's own filter (no AllExceptionsFilter here) replies through the adapter with a 500.
    const boom = await http().get('/boom');
    expect(boom.status).toBe(500);
    expect(boom.body).toEqual({ statusCode: 500, message: 'Internal server error' });
  });
});
