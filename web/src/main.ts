/**
 * The demo classroom: join as teacher or student with a local dev token, chat, draw on a shared
 * whiteboard, see who is here, and (teacher) end the class. Everything goes through the Client SDK.
 * The room's history epoch is kept per room in sessionStorage, so that coming back to a room whose
 * history was reset meanwhile (the class ended and a new one began, or its state expired) says so.
 */
import {
  ClassroomClient,
  type ClassroomError,
  type Member,
  mergeStrokes,
  type RoomMessage,
  type StrokeSegment,
} from '../../client/src';
import { Whiteboard } from './whiteboard';
import './style.css';

/** The answer of the dev server's `POST /dev/token` (local/demo-server.ts). */
interface DevToken {
  token: string;
  userId: string;
  name: string;
  role: 'teacher' | 'student';
  classRoomId: string;
  url: string;
}

interface ChatData {
  text: string;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const view = {
  join: $('join-view'),
  joinForm: $<HTMLFormElement>('join-form'),
  joinError: $('join-error'),
  classroom: $('class-view'),
  session: $('session'),
  roomLabel: $('room-label'),
  me: $('me'),
  state: $('state'),
  endClass: $<HTMLButtonElement>('end-class'),
  leave: $<HTMLButtonElement>('leave'),
  presence: $('presence'),
  presenceCount: $('presence-count'),
  chat: $('chat'),
  epoch: $('epoch'),
  historyReset: $('history-reset'),
  historyResetDismiss: $<HTMLButtonElement>('history-reset-dismiss'),
  chatForm: $<HTMLFormElement>('chat-form'),
  chatInput: $<HTMLInputElement>('chat-input'),
  board: $<HTMLCanvasElement>('board'),
  boardInfo: $('board-info'),
  toolbar: $('toolbar'),
  ended: $('ended'),
  endedBy: $('ended-by'),
  rejoin: $<HTMLButtonElement>('rejoin'),
};

let client: ClassroomClient | undefined;

async function fetchToken(input: { name: string; role: string; classRoomId: string; userId?: string }) {
  const response = await fetch('/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as DevToken & { message?: string };
  if (!response.ok) throw new Error(body.message ?? `HTTP ${response.status}`);
  return body;
}

function prefill(): void {
  const params = new URLSearchParams(location.search);
  const form = view.joinForm.elements as unknown as Record<string, HTMLInputElement | RadioNodeList>;
  const name = params.get('name') ?? sessionStorage.getItem('classroom.name');
  const role = params.get('role') ?? sessionStorage.getItem('classroom.role');
  const room = params.get('room') ?? sessionStorage.getItem('classroom.room');
  if (name) (form.name as HTMLInputElement).value = name;
  if (role === 'teacher' || role === 'student') (form.role as RadioNodeList).value = role;
  if (room) (form.room as HTMLInputElement).value = room;
}

async function join(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  const data = new FormData(view.joinForm);
  const name = String(data.get('name') ?? '').trim();
  const role = String(data.get('role') ?? 'student');
  const classRoomId = String(data.get('room') ?? '').trim();
  view.joinError.textContent = '';
  let first: DevToken;
  try {
    first = await fetchToken({ name, role, classRoomId });
  } catch (error) {
    view.joinError.textContent = `Could not get a token: ${(error as Error).message}`;
    return;
  }
  sessionStorage.setItem('classroom.name', name);
  sessionStorage.setItem('classroom.role', role);
  sessionStorage.setItem('classroom.room', classRoomId);
  enterClass(first);
}

/** Where the page keeps the last epoch it saw of a room. */
const epochKey = (classRoomId: string) => `classroom.epoch.${classRoomId}`;

function storedEpoch(classRoomId: string): number | undefined {
  const epoch = Number(sessionStorage.getItem(epochKey(classRoomId)));
  return Number.isSafeInteger(epoch) && epoch > 0 ? epoch : undefined;
}

function enterClass(session: DevToken): void {
  const c = new ClassroomClient({
    url: session.url,
    classRoomId: session.classRoomId,
    token: session.token,
    // The whole history (the chat starts empty), in the epoch last seen here: a new one is a reset.
    epoch: storedEpoch(session.classRoomId),
    // A fresh token before every reconnect (the same user).
    getToken: async () =>
      (
        await fetchToken({
          name: session.name,
          role: session.role,
          classRoomId: session.classRoomId,
          userId: session.userId,
        })
      ).token,
  });
  client = c;

  view.join.hidden = true;
  view.ended.hidden = true;
  view.historyReset.hidden = true;
  view.classroom.hidden = false;
  view.session.hidden = false;
  view.roomLabel.textContent = `Classroom ${session.classRoomId}`;
  view.me.textContent = `${session.name} (${session.role})`;
  view.endClass.hidden = session.role !== 'teacher';
  view.chat.replaceChildren();
  view.presence.replaceChildren();
  showEpoch(c);

  const board = new Whiteboard(view.board, (segment) => strokes.push(segment));
  const strokes = c.coalesce<StrokeSegment>('whiteboard', { merge: mergeStrokes, windowMs: 50 });
  view.toolbar.onclick = (event) => {
    const color = (event.target as HTMLElement).dataset.color;
    if (!color) return;
    board.color = color;
    view.toolbar.querySelectorAll<HTMLElement>('.swatch').forEach((swatch) => {
      swatch.classList.toggle('active', swatch.dataset.color === color);
    });
  };
  // A new board draws in the first colour: only its swatch is active (also after leaving and rejoining).
  view.toolbar.querySelectorAll<HTMLElement>('.swatch').forEach((swatch, index) => {
    swatch.classList.toggle('active', index === 0);
  });

  c.on('state', ({ state }) => {
    view.state.textContent = state;
    view.state.dataset.state = state;
  });
  c.on('message', (message, { source }) => {
    if (message.seq !== undefined) view.boardInfo.textContent = `message #${c.lastSeq}`;
    showEpoch(c);
    if (message.kind === 'chat') addChat(message as RoomMessage<ChatData>, source);
    // Own strokes are on the board already; everyone else's (and ours from history, after a reload) are drawn.
    if (message.kind === 'whiteboard' && source !== 'self') {
      for (const segment of (message.data as { items?: StrokeSegment[] }).items ?? []) board.draw(segment);
    }
  });
  c.on('synced', ({ lastSeq, complete }) => {
    view.boardInfo.textContent = `in sync at message #${lastSeq}${complete ? '' : ' (older history expired)'}`;
    showEpoch(c);
  });
  // The room's history restarted (a new epoch; `reset` from a server without epochs): what is shown is
  // gone from the room, and the new history follows from its first message.
  const historyWasReset = () => {
    view.chat.replaceChildren();
    board.clear();
    view.historyReset.hidden = false;
    showEpoch(c);
  };
  c.on('historyReset', historyWasReset);
  c.on('reset', historyWasReset);
  view.historyResetDismiss.onclick = () => {
    view.historyReset.hidden = true;
  };
  c.on('presence', ({ members }) => renderPresence(members));
  c.on('classEnded', ({ by }) => {
    view.endedBy.textContent = `${by.name} ended the class.`;
    view.ended.hidden = false;
  });
  c.on('error', (error) => notice((error as ClassroomError).message));

  view.chatForm.onsubmit = (event) => {
    event.preventDefault();
    const text = view.chatInput.value.trim();
    if (!text) return;
    view.chatInput.value = '';
    c.send<ChatData>('chat', { text }).catch((error: Error) => notice(`Not sent: ${error.message}`));
  };
  view.endClass.onclick = () => {
    c.endClass().catch((error: Error) => notice(`Could not end the class: ${error.message}`));
  };
  view.leave.onclick = () => leave();
  view.rejoin.onclick = () => leave();

  c.connect().catch((error: Error) => notice(`Could not connect: ${error.message}`));
}

function leave(): void {
  client?.close();
  client = undefined;
  view.classroom.hidden = true;
  view.session.hidden = true;
  view.ended.hidden = true;
  view.historyReset.hidden = true;
  view.join.hidden = false;
}

/** The epoch, small and muted beside the chat's title (its last digits; all of it in the tooltip). */
function showEpoch(c: ClassroomClient): void {
  const epoch = c.epoch;
  view.epoch.hidden = epoch === undefined;
  if (epoch === undefined || view.epoch.dataset.epoch === String(epoch)) return;
  view.epoch.dataset.epoch = String(epoch);
  view.epoch.textContent = `epoch …${String(epoch).slice(-6)}`;
  view.epoch.title = `History epoch ${epoch}: it changes when the class history is reset`;
  sessionStorage.setItem(epochKey(c.classRoomId), String(epoch));
}

function addChat(message: RoomMessage<ChatData>, source: string): void {
  const item = document.createElement('li');
  item.dataset.seq = String(message.seq ?? '');
  item.dataset.source = source;
  const who = document.createElement('span');
  who.className = `who role-${message.from.role}`;
  who.textContent = source === 'self' ? 'You' : message.from.name;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = String(message.data?.text ?? '');
  const time = document.createElement('time');
  time.textContent = new Date(message.sentAt).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  item.append(who, text, time);
  view.chat.append(item);
  view.chat.scrollTop = view.chat.scrollHeight;
}

function renderPresence(members: Member[]): void {
  const sorted = [...members].sort((a, b) =>
    a.role === b.role ? a.name.localeCompare(b.name) : a.role === 'teacher' ? -1 : 1,
  );
  view.presence.replaceChildren(
    ...sorted.map((member) => {
      const item = document.createElement('li');
      item.dataset.user = member.userId;
      const name = document.createElement('span');
      name.textContent = member.name;
      const role = document.createElement('small');
      role.className = `role-${member.role}`;
      role.textContent = member.role;
      item.append(name, role);
      return item;
    }),
  );
  view.presenceCount.textContent = `(${members.length})`;
}

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function notice(text: string): void {
  view.boardInfo.textContent = text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    if (view.boardInfo.textContent === text) view.boardInfo.textContent = '';
  }, 5000);
}

prefill();
view.joinForm.addEventListener('submit', (event) => void join(event));
